"""One answer set through the real Packstack 26.0.0, `--dry-run`, in a sandbox of its own.

In the sandbox (dryrun_sandbox.py) the steps the lab runs on the controller, with the project's own scripts:
host prep's root key and trust (scripts/controller-root-key.sh, trust-controller-key.sh), then per stage
the answer file (scripts/packstack-answers.sh: `packstack --gen-answer-file` once, then the lab's lines from
stdin) and `packstack --answer-file=... --dry-run`. The run's var dir (manifests/, hieradata/) stays in the
scratch for the assertions and the catalog compile; passwords never reach a message (`redact`).
"""
from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.packstack import ANSWER_DIR
from lab.plan import plan
from support import ROOT, require, tail
from support.packages import ensure
from support.secret_scan import mask

from answer_sets import SUCCESS, AnswerSet, stage_answers
from dryrun_nodes import write_nodes, write_puppet_dir
from dryrun_sandbox import STANDINS, SYSTEM_PATH, Sandbox, sandbox

PACKSTACK_VENV = ROOT / ".venv-packstack"
PACKSTACK = PACKSTACK_VENV / "bin" / "packstack"
ANSWERS_TIMEOUT = 180  # --gen-answer-file and the edits
DRY_RUN_TIMEOUT = 600  # a dry-run takes 10-20 s; a hung SSH step must still end
ROLES = ("controller", "network", "compute", "excluded")
ANSWER_LINE = re.compile(r"^[A-Z0-9_]+=")


PACKAGES = ("openssh-server", "openssh-client", "iproute2", "util-linux")
COMMANDS = ("sshd", "ssh", "ssh-keygen", "ssh-keyscan", "ip", "unshare", "nsenter", "findmnt")
VENV_TIMEOUT = 900


def require_tier() -> None:
    """The tier's prerequisites, installed when missing (tools/ensure-packages.sh starts no service: the
    machine's sshd stays off); support.require semantics: skip locally, fail under CI=true."""
    require(os.geteuid() == 0, "the Packstack tier needs root (network and mount namespaces, sshd on port 22)")
    ensure(PACKAGES, COMMANDS)
    if not PACKSTACK.exists():  # `make deps` makes it; the tier makes it too when run on its own
        proc = subprocess.run(["make", "-C", str(ROOT), ".venv-packstack/.stamp"], capture_output=True, text=True,
                              timeout=VENV_TIMEOUT, stdin=subprocess.DEVNULL)
        require(proc.returncode == 0, "make .venv-packstack/.stamp failed: " + tail(proc.stdout + proc.stderr, 10))
    require(PACKSTACK.exists(), f"{PACKSTACK} missing (make deps installs packstack 26.0.0)")


def packstack_package() -> Path:
    """The installed `packstack` package of Packstack's venv."""
    found = sorted(PACKSTACK_VENV.glob("lib/python3*/site-packages/packstack"))
    if not found:
        raise FileNotFoundError(f"no packstack package under {PACKSTACK_VENV} (make deps installs it)")
    return found[-1]


def answers_of(text: str) -> dict[str, str]:
    """KEY=VALUE lines of an answer file (its [general] header and comments aside)."""
    return dict(line.split("=", 1) for line in text.splitlines() if ANSWER_LINE.match(line))


def same_answer(value: Any, answer: str) -> bool:
    """A hieradata value is the answer as given, or a multi-valued answer's list (Packstack's processors)."""
    if isinstance(value, list):
        return [str(v) for v in value] == [a.strip() for a in answer.split(",") if a.strip()]
    return str(value) == answer


def host_roles(answers: dict[str, str]) -> dict[str, frozenset[str]]:
    """Each host's roles as the answers give them (EXCLUDE_SERVERS: hosts Packstack writes manifests for
    but neither prepares nor applies, packstack/modules/common.py filtered_hosts)."""
    keys = {"controller": "CONFIG_CONTROLLER_HOST", "network": "CONFIG_NETWORK_HOSTS",
            "compute": "CONFIG_COMPUTE_HOSTS", "excluded": "EXCLUDE_SERVERS"}
    roles: dict[str, set[str]] = {}
    for role, key in keys.items():
        for host in (h.strip() for h in answers.get(key, "").split(",")):
            if host:
                roles.setdefault(host, set()).add(role)
    return {host: frozenset(r) for host, r in roles.items()}


@dataclass(frozen=True)
class PackstackRun:
    """What one answer set's dry-run left. `answers` and the files under `run_dir` hold passwords."""

    name: str
    run_dir: Path  # Packstack's var dir of the dry-run: manifests/, hieradata/, openstack-setup.log
    hosts: dict[str, frozenset[str]]  # ip -> roles (controller, network, compute, excluded)
    answers: dict[str, str]  # the answer file Packstack ran with (as packstack-answers.sh wrote it)
    # The same file as Packstack rewrote it at its start (run_setup.py _main): an option of a group it did not
    # read (a service not installed) is back at Packstack's default, PW_PLACEHOLDER for a password.
    answers_rewritten: dict[str, str]
    lab_answers: dict[str, str]  # the lab's answer edits for the last stage (no passwords)
    rc: int
    output: str  # packstack's stdout and stderr
    seconds: float  # the dry-run's wall time
    answers_output: str  # packstack-answers.sh's output of the last stage
    passwords: frozenset[str]

    @property
    def ok(self) -> bool:
        return self.rc == 0 and SUCCESS in self.output

    @property
    def manifests(self) -> Path:
        return self.run_dir / "manifests"

    @property
    def hieradata(self) -> Path:
        return self.run_dir / "hieradata"

    @property
    def applied_hosts(self) -> tuple[str, ...]:
        """The hosts Packstack would apply manifests on (not excluded)."""
        return tuple(h for h, roles in self.hosts.items() if "excluded" not in roles)

    def hieradata_values(self) -> dict[str, Any]:
        """hieradata/common.yaml: every answer as Puppet will look it up (passwords included)."""
        return yaml.safe_load((self.hieradata / "common.yaml").read_text())

    def redact(self, text: str) -> str:
        return mask(text, self.passwords)

    def __repr__(self) -> str:  # pytest prints it in a failed assertion: never the answers or the passwords
        return f"PackstackRun({self.name!r}, rc={self.rc}, ok={self.ok}, run_dir={str(self.run_dir)!r})"

    def summary(self) -> str:
        """For an assertion message: rc, time and the output's tail, passwords masked."""
        return self.redact(f"set {self.name}: packstack --dry-run rc {self.rc} in {self.seconds:.1f} s; "
                           f"last lines:\n{tail(self.output, 30)}")


def _prep_controller(box: Sandbox, nodes) -> None:
    """Host prep's part Packstack relies on: root's key on the controller, trusted on every node."""
    key = box.run(["bash", str(ROOT / "scripts" / "controller-root-key.sh")], "controller-root-key.sh", 60)
    if key.returncode != 0:
        raise RuntimeError(f"controller-root-key.sh failed: {tail(key.stdout, 10)}")
    public = key.stdout.strip().splitlines()[-1]
    host_key = " ".join((box.scratch / "sshd" / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    known = "".join(f"{n.ip},{n.fqdn},{n.short} {host_key}\n" for n in nodes)
    trust = box.run(["bash", str(ROOT / "scripts" / "trust-controller-key.sh")], "trust-controller-key.sh", 60,
                    env={"LAB_CONTROLLER_KEY": public}, stdin=known)
    if trust.returncode != 0:
        raise RuntimeError(f"trust-controller-key.sh failed: {tail(trust.stdout, 10)}")


def run_answer_set(answer_set: AnswerSet, scratch: Path) -> PackstackRun:
    """Every stage of the set in one sandbox (one controller); the last stage's dry-run is the result.
    An earlier stage must succeed (the lab re-runs Packstack only after a finished run)."""
    stages = stage_answers(answer_set)
    lab_plan = plan(answer_set.configs()[-1])
    scratch.mkdir(mode=0o700)
    nodes_dir = write_nodes(scratch / "nodes", lab_plan)
    puppet_dir = write_puppet_dir(scratch / "openstack-puppet", packstack_package())
    prefix = ipaddress.ip_network(lab_plan.management.cidr).prefixlen
    # Packstack runs on the controller, an EL9 node too: the stand-ins first on its own PATH (all-in-one
    # steps run locally, prescript_000.py), then Packstack's venv (packstack-answers.sh calls `packstack`).
    packstack_env = {"PATH": f"{STANDINS}:{PACKSTACK_VENV / 'bin'}:{SYSTEM_PATH}", "LAB_ANSWER_DIR": ANSWER_DIR,
                     "PACKSTACK_PUPPETDIR": str(puppet_dir)}
    passwords = frozenset().union(*(s.passwords for s in stages))

    with sandbox(scratch, lab_plan.host_entries, lab_plan.management.gateway, prefix,
                 {"STANDIN_NODES": str(nodes_dir)}) as box:
        _prep_controller(box, lab_plan.host_entries)
        answer_file = box.root / Path(ANSWER_DIR).relative_to("/root") / "answers.txt"
        for number, stage in enumerate(stages, 1):
            made = box.run(["bash", str(ROOT / "scripts" / "packstack-answers.sh")], "packstack-answers.sh",
                           ANSWERS_TIMEOUT, env=packstack_env, stdin=stage.lines)
            if made.returncode != 0:
                raise RuntimeError(f"set {answer_set.name}, stage {number}: packstack-answers.sh failed (rc "
                                   f"{made.returncode}): {mask(tail(made.stdout, 15), passwords)}")
            given = answer_file.read_text()
            started = time.monotonic()
            proc = box.run([str(PACKSTACK), f"--answer-file={ANSWER_DIR}/answers.txt", "--dry-run"],
                           f"packstack --dry-run of set {answer_set.name} (stage {number})", DRY_RUN_TIMEOUT,
                           env=packstack_env)
            seconds = time.monotonic() - started
            if number < len(stages) and (proc.returncode != 0 or SUCCESS not in proc.stdout):
                raise RuntimeError(f"set {answer_set.name}: stage {number} of {len(stages)} did not succeed (rc "
                                   f"{proc.returncode}): {mask(tail(proc.stdout, 15), passwords)}")
        rewritten = answer_file.read_text()
        run_dir = (box.var_tmp / "packstack" / "latest").resolve()
    answers = answers_of(given)
    return PackstackRun(answer_set.name, run_dir, host_roles(answers), answers, answers_of(rewritten),
                        stages[-1].lab_answers, proc.returncode, proc.stdout, seconds, made.stdout, passwords)
