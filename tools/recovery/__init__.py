"""What `make recover` (tools/recover.py) does, by concern; standard library only (it runs on the system
python3 before any venv):

- run.py: the order of the steps and the command line: refuse while a pulumi of the stack runs, check the
  passphrase, stop orphaned plugins, remove stale locks, resolve pending creates, refresh.
- procfs.py: processes read from /proc (argv, environment, parent, listening ports).
- processes.py: which of them are pulumi CLIs of this stack or plugins whose engine is gone; stopping them.
- backend.py: the file backend: its directory, the project, the stack's state and lock files.
- cli.py: the pulumi CLI, bounded and non-interactive; the passphrase check; `stack export`.
- libvirt_orphans.py: the libvirt objects of interrupted creates, looked up by name and removed.
- messages.py: what recover says, and the failure that stops it with its exit code.
"""
