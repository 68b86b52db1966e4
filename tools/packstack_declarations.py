"""Writes lab/packstack_validators.json: what the pinned Packstack declares for each answer key (its
validators, allowed values, processors, default and group), read from the plugins' own `initConfig`
param lists (`make packstack-options`; tests/unit/test_packstack_validators.py checks the file against
the installed Packstack).

Usage: python tools/packstack_declarations.py > lab/packstack_validators.json

Importing the plugins the way Packstack does would run `packstack.installer.basedefs`, which makes
/var/tmp/packstack, a fresh temp dir in it and a `latest` symlink at import time (basedefs.py:45-86).
This script puts a stand-in `basedefs` in sys.modules first, holding only the names the plugins read
while they are imported and declare their options (the doc path for `update_params_usage`, a few paths
and the app name, never used here). The default answer of the host keys is the machine's own address
(`utils.get_localhost_ip`, a routing lookup) and a few secrets' defaults are random (`uuid.uuid4`):
they are written as LOCAL_ADDRESS and RANDOM_DEFAULT so the file does not depend on where or when it
is made. An audit hook (refuse_side_effects, also used by the unit test of the checks) refuses file
writes, directories, links, processes, sockets and name lookups while the plugins load, so nothing of
the machine changes and nothing leaves it.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import pkgutil
import re
import sys
import types
import uuid
from typing import Any

PACKSTACK_VERSION = "26.0.0"
LOCAL_ADDRESS = "<this host's address>"
RANDOM_DEFAULT = "<random hex>"
_MARKER = uuid.UUID("feedface-feed-face-feed-facefeedface")  # uuid4() while the plugins declare their options

_REFUSED_EVENTS = {"os.mkdir", "os.symlink", "os.link", "os.rename", "os.remove", "os.rmdir", "os.chmod",
                   "os.chown", "tempfile.mkdtemp", "tempfile.mkstemp", "subprocess.Popen", "os.system",
                   "os.exec", "os.posix_spawn", "os.truncate", "socket.connect", "socket.bind", "socket.sendto",
                   "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"}


def refuse_side_effects(event: str, args: tuple) -> None:
    """sys.addaudithook's hook: raise on anything that would change this machine or reach another."""
    if event in _REFUSED_EVENTS:
        raise RuntimeError(f"refused {event}{args!r}: "
                           "reading Packstack's options must not touch this machine or the net")
    if event == "open" and _writes(*args):
        raise RuntimeError(f"refused writing {args[0]!r}: reading Packstack's options must not touch this machine")


def _writes(path: Any, mode: Any, flags: Any) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC))


def _doc_path() -> str:
    """Where basedefs finds packstack.rst (basedefs.py:29-42), for update_params_usage."""
    import packstack

    candidates = [os.path.join(os.path.dirname(packstack.__path__[0]), "docs", "source", "packstack.rst"),
                  os.path.join(sys.prefix, "share", "packstack", "packstack.rst"),
                  "/usr/local/share/packstack/packstack.rst"]
    return next((p for p in candidates if os.path.exists(p)), "/usr/share/packstack/packstack.rst")


def _stand_in_basedefs() -> types.ModuleType:
    import packstack.installer

    module = types.ModuleType("packstack.installer.basedefs")
    project = os.path.dirname(packstack.installer.__file__)
    nowhere = "/nonexistent/packstack-declarations"  # plugins join these into paths they never open here
    module.__dict__.update(APP_NAME="Packstack", PACKSTACK_DOC=_doc_path(), DIR_PROJECT_DIR=project,
                           DIR_PLUGINS=os.path.join(project, "plugins"), DIR_MODULES=os.path.join(project, "modules"),
                           PACKSTACK_VAR_DIR=nowhere, VAR_DIR=nowhere, DIR_LOG=nowhere,
                           PUPPET_MANIFEST_RELATIVE="manifests", PUPPET_MANIFEST_DIR=f"{nowhere}/manifests",
                           HIERADATA_FILE_RELATIVE="hieradata", HIERADATA_DIR=f"{nowhere}/hieradata")

    def missing(name: str) -> Any:
        raise AttributeError(f"the stand-in basedefs has no {name}: add it to tools/packstack_declarations.py")

    module.__dict__["__getattr__"] = missing  # a module's own __getattr__ (PEP 562) lives in its namespace
    return module


def _name(fn: Any) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _plugin_order(name: str) -> int:
    """Packstack loads plugins by the number their file name ends in (run_setup.py plugin_compare)."""
    order = re.search(r"_(\d\d\d)$", name)
    if order is None:
        raise ValueError(f"Packstack plugin {name} has no _NNN order suffix")
    return int(order.group(1))


def declarations() -> dict[str, dict[str, Any]]:
    version = importlib.metadata.version("packstack")
    if version != PACKSTACK_VERSION:
        raise SystemExit(f"packstack {version} is installed; the lab pins {PACKSTACK_VERSION}")
    import packstack.installer

    sys.modules["packstack.installer.basedefs"] = packstack.installer.basedefs = _stand_in_basedefs()
    from packstack.installer import utils
    from packstack.installer.setup_controller import Controller

    utils.get_localhost_ip = lambda: LOCAL_ADDRESS
    uuid.uuid4 = lambda: _MARKER
    import packstack.plugins

    names = sorted((m.name for m in pkgutil.iter_modules(packstack.plugins.__path__) if re.search(r"_\d\d\d$", m.name)),
                   key=_plugin_order)
    controller = Controller()
    for name in names:
        importlib.import_module(f"packstack.plugins.{name}").initConfig(controller)
    found: dict[str, dict[str, Any]] = {}
    for group in controller.getAllGroups():
        for param in group.parameters.itervalues():
            default = param.DEFAULT_VALUE
            if isinstance(default, str) and len(default) >= 8 and _MARKER.hex.startswith(default):
                default = RANDOM_DEFAULT
            found[param.CONF_NAME] = {
                "validators": [_name(v) for v in param.VALIDATORS or []],
                "options": [str(o) for o in param.OPTION_LIST or []],
                "processors": [_name(p) for p in param.PROCESSORS or []],
                "default": None if default is None else str(default),
                "group": group.GROUP_NAME,
            }
    return found


def render(found: dict[str, dict[str, Any]]) -> str:
    """One key a line, sorted, so a Packstack bump shows as a readable diff."""
    lines = [f"  {json.dumps(key)}: {json.dumps(found[key], sort_keys=True)}" for key in sorted(found)]
    head = (f'{{"_about": "What packstack {PACKSTACK_VERSION} declares for each answer key; '
            'regenerate with `make packstack-options`",\n "packstack": "%s",\n "keys": {\n' % PACKSTACK_VERSION)
    return head + ",\n".join(lines) + "\n }\n}\n"


def main() -> None:
    sys.dont_write_bytecode = True  # no __pycache__ next to the installed plugins either
    sys.addaudithook(refuse_side_effects)
    sys.stdout.write(render(declarations()))


if __name__ == "__main__":
    main()
