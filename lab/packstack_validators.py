"""Packstack's own answer validators, run in this process on the user's `packstackAnswers` (issue 17).

A value Packstack refuses stops its run at the start, an hour into `pulumi up` (after the VMs and
their prep); here the same refusal comes at `pulumi preview`, with Packstack's own message. What
Packstack 26.0.0 declares for each key (validators, allowed values, processors: its plugins'
`initConfig` param lists) is data in packstack_validators.json, made from the pinned Packstack by
tools/packstack_declarations.py (`make packstack-options`): importing the plugins here would run
`packstack.installer.basedefs`, which makes directories under /var/tmp at import time. The validator
functions themselves are Packstack's, called in-process: `packstack.installer.validators` imports
no basedefs, and Swift's two plugin-level validators are compiled from the installed plugin's source
alone, without importing the plugin.

Packstack loads an answer as processors, then validators, each validator with the key's option list
(run_setup.py `_loadParamFromFile`, `validate_param_value`); so does `problem()`, with what would ask
a host or change this machine left to the run (NOT_AT_PREVIEW, PROCESSORS_NOT_AT_PREVIEW). Not
checked here either: answers that depend on others. Packstack reads a group of answers only when the
group's pre-condition holds (a service's answers when it is installed, a backend's when it is chosen);
here a value other than Packstack's default is checked even when its group is off, and Packstack's own
default always passes (it is blank for many options of features that are off). Nor what Packstack's
plugin steps and Puppet find later (see README, packstackAnswers).
"""
from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from packstack.installer import processors, validators
from packstack.installer.exceptions import ParamValidationError

DECLARATIONS_FILE = Path(__file__).with_name("packstack_validators.json")
_V = "packstack.installer.validators."
_P = "packstack.installer.processors."
_SWIFT = "packstack.plugins.swift_600."

# Validators that ask a host or this machine: Packstack runs them on the controller, at the start of its run.
NOT_AT_PREVIEW = {
    _V + "validate_ssh": "connects to port 22 of the host",
    _V + "validate_multi_ssh": "connects to port 22 of each host",
    _V + "validate_ping": "pings the host",
    _V + "validate_multi_ping": "pings each host",
    _V + "validate_file": "looks for the file on the controller, where Packstack runs",
    _V + "validate_sshkey": "reads the key file on the controller",
    _V + "validate_writeable_directory": "tries the directory on the controller",
    _V + "validate_ldap_url": "imports python-ldap, which the controller has and the lab's venv has not",
    _V + "validate_ldap_dn": "imports python-ldap, which the controller has and the lab's venv has not",
}
# Processors that change a value before its validators: the pure ones run here, the others are the run's.
PROCESSORS_AT_PREVIEW = {_P + n for n in ("process_bool", "process_add_quotes_around_values",
                                          "process_string_nofloat", "process_heat", "process_cidr")}
PROCESSORS_NOT_AT_PREVIEW = {
    _P + "process_password": "replaces only the PW_PLACEHOLDER default by a password; a given value stays",
    "packstack.plugins.trove_850.process_trove_nova_pw": "replaces only the PW_PLACEHOLDER default",
    _P + "process_ssh_key": "makes a key file where Packstack runs (CONFIG_SSH_KEY is the lab's)",
    _P + "process_host": "resolves host names",
    "packstack.plugins.glance_200.process_backend": "turns swift into file when Swift is off: both are allowed",
    "packstack.plugins.provision_700.initConfig.<locals>.process_tempest":
        "fills a blank value with the network host; the value's only validator asks the host (validate_ssh)",
}
# What to do about a refusal, by validator ({options}: the key's allowed values).
FIXES = {
    _V + "validate_not_empty": "give a value, or remove the key for Packstack's default",
    _V + "validate_options": "use one of: {options}",
    _V + "validate_multi_options": "use one or more of {options}, separated by commas",
    _V + "validate_neutron": "use y: Packstack installs Neutron always",
    _V + "validate_integer": "use a whole number",
    _V + "validate_float": "use a number such as 1.5",
    _V + "validate_port": "use a port number from 0 to 65534",
    _V + "validate_ip": "use an IPv4 or IPv6 address",
    _V + "validate_multi_ip": "use IPv4 or IPv6 addresses separated by commas",
    _V + "validate_regexp": "use a value matching {options}",
    _V + "validate_multi_regexp": "use values matching {options}, separated by commas",
    _V + "validate_export": "use an NFS export such as 192.0.2.5:/srv/nfs ([...] around IPv6 addresses)",
    _V + "validate_multi_export": "use NFS exports such as 192.0.2.5:/srv/nfs, separated by commas",
    _SWIFT + "validate_storage": "use device paths such as /dev/vdb, separated by commas",
    _SWIFT + "validate_storage_size": "use a size with its unit, such as 2G, 1000M or 1000000K",
}
# Names Swift's plugin-level validators may use (swift_600.py imports them at its top).
_PLUGIN_GLOBALS = {"re": re, "ParamValidationError": ParamValidationError}


@dataclass(frozen=True)
class Declaration:
    """What Packstack declares for one answer key."""

    validators: tuple[str, ...]
    options: tuple[str, ...]
    processors: tuple[str, ...]
    default: Optional[str]

    @property
    def checked(self) -> tuple[str, ...]:
        """The validators that run at preview, in Packstack's order."""
        return tuple(v for v in self.validators if v not in NOT_AT_PREVIEW)


@lru_cache(maxsize=1)
def declarations() -> Mapping[str, Declaration]:
    data = json.loads(DECLARATIONS_FILE.read_text())["keys"]
    return {key: Declaration(tuple(d["validators"]), tuple(d["options"]), tuple(d["processors"]), d["default"])
            for key, d in data.items()}


def problem(key: str, value: str) -> Optional[str]:
    """Packstack's refusal of the answer, with the fix; None when its validators that run here accept it
    (or the key is no Packstack option: the key check says so)."""
    declared = declarations().get(key)
    if declared is None or value.strip() == declared.default:
        # Packstack's own default stands: it writes blank defaults for the options of features that are off
        # and checks them only when the feature is on (a group pre-condition)
        return None
    # Packstack reads its answer file with configparser, which strips values (run_setup.py:409)
    processed: Any = value.strip()
    for name in declared.processors:
        if name in PROCESSORS_AT_PREVIEW:
            processed = getattr(processors, name.rsplit(".", 1)[1])(processed, key, {})
        elif name not in PROCESSORS_NOT_AT_PREVIEW:
            raise LookupError(f"{key}: Packstack's processor {name} is not sorted into lab/packstack_validators.py")
    for name in declared.checked:
        try:
            validator(name)(processed, list(declared.options))
        except ParamValidationError as refusal:
            fix = FIXES[name].format(options=", ".join(declared.options))
            if name == _V + "validate_not_empty" and _P + "process_bool" in declared.processors:
                fix = "use y or n"  # process_bool made None of anything else
            return f"Packstack refuses it: {refusal}; {fix}"
    return None


def problems(answers: Mapping[str, str]) -> dict[str, str]:
    """Every refused answer at once: key -> message."""
    found = {key: problem(key, value) for key, value in answers.items()}
    return {key: message for key, message in found.items() if message}


@lru_cache(maxsize=None)
def validator(name: str) -> Callable[..., Any]:
    """Packstack's validator function of that name."""
    if name not in FIXES:
        raise LookupError(f"Packstack's validator {name} is not sorted into lab/packstack_validators.py")
    module, function = name.rsplit(".", 1)
    if module == "packstack.installer.validators":
        return getattr(validators, function)
    return _plugin_function(module, function)


def _plugin_function(module: str, function: str) -> Callable[..., Any]:
    """A plugin's own function, compiled from the installed plugin file alone (importing the plugin would run
    basedefs); it may use only _PLUGIN_GLOBALS and builtins."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"Packstack's module {module} is not installed")
    source_file = spec.origin
    tree = ast.parse(Path(source_file).read_text(), source_file)
    found: list[ast.stmt] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function]
    if len(found) != 1:
        raise LookupError(f"{source_file} defines no function {function}")
    local = {a.arg for a in ast.walk(found[0]) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(found[0]) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    used = {n.id for n in ast.walk(found[0]) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unknown = used - local - set(_PLUGIN_GLOBALS) - set(dir(builtins))
    if unknown:
        raise LookupError(f"{module}.{function} uses {sorted(unknown)}, "
                          "which lab/packstack_validators.py does not give it")
    namespace = {"__name__": module, **_PLUGIN_GLOBALS}
    exec(compile(ast.Module(body=found, type_ignores=[]), source_file, "exec"), namespace)
    return namespace[function]
