"""providers/: the import paths every stack's state holds, and the imports a provider module may make.

Pulumi stores each dynamic resource's provider pickled by reference: the module path and the class name,
which the provider process imports again on every later preview, up and destroy (CONTRIBUTING.md,
"Providers"). Renaming or moving a module or a provider class breaks every existing stack, so the paths
are pinned here; a new provider is added to PINNED when it is made, and never changed afterwards.
"""
import ast
import base64
import importlib
import inspect
import pickletools
import sys
from pathlib import Path

from pulumi.dynamic import Resource, ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

PROVIDERS = Path(__file__).resolve().parents[2] / "providers"

# (module, provider class) as existing stacks' states name them.
PINNED = {
    ("providers.host_key_scan", "_HostKeyScanProvider"),
    ("providers.image_file", "_ImageFileProvider"),
    ("providers.keystone_ready", "KeystoneReadyProvider"),
    ("providers.lab_snapshot", "LabSnapshotProvider"),
    ("providers.packstack_answers", "PackstackAnswersProvider"),
    ("providers.ssh_keypair", "SshKeyPairProvider"),
    ("providers.ssh_ready", "_SshReadyProvider"),
}
# What a provider module may import: the provider process runs it outside the program.
ALLOWED_TOP_LEVEL = {"pulumi", "cryptography", "providers"} | set(sys.stdlib_module_names)


def provider_modules():
    return [importlib.import_module(f"providers.{path.stem}")
            for path in sorted(PROVIDERS.glob("*.py")) if path.stem != "__init__"]


def defined_here(module, base):
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, base) and cls is not base and cls.__module__ == module.__name__]


def pickled_references(provider_class):
    """The (module, name) pairs the state's `__provider` value refers to."""
    pickled = base64.b64decode(serialize_provider(provider_class.__new__(provider_class)))
    strings, references = [], []
    for op, arg, _ in pickletools.genops(pickled):
        if isinstance(arg, str):
            strings.append(arg)
        if op.name == "STACK_GLOBAL":
            references.append(tuple(strings[-2:]))
        elif op.name == "GLOBAL":
            references.append(tuple(arg.split(" ", 1)))
    return references


def test_every_provider_class_is_at_its_pinned_path():
    found = {(cls.__module__, cls.__qualname__)
             for module in provider_modules() for cls in defined_here(module, ResourceProvider)}
    assert found == PINNED, (
        "dynamic providers moved or renamed (existing stacks' states import the old path), or a new one is not "
        f"pinned yet: missing {sorted(PINNED - found)}, unpinned {sorted(found - PINNED)}"
    )


def test_the_state_refers_to_each_provider_by_its_path_only():
    for module, name in sorted(PINNED):
        provider_class = getattr(importlib.import_module(module), name)
        assert pickled_references(provider_class) == [(module, name)]


def test_the_resources_keep_the_sdk_type_token():
    # The URN type of every dynamic resource is pulumi-python:dynamic:Resource; another token is another resource.
    resources = [cls for module in provider_modules() for cls in defined_here(module, Resource)]
    assert len(resources) >= len(PINNED)
    assert {cls._resource_type_name for cls in resources} == {"dynamic:Resource"}


def foreign_imports(source: str) -> list[str]:
    """The modules a provider's source imports from outside ALLOWED_TOP_LEVEL."""
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module if node.level == 0 and node.module else "providers")  # relative: the package
    return sorted(name for name in imported if name.split(".")[0] not in ALLOWED_TOP_LEVEL)


def config_reads(source: str) -> list[int]:
    """Lines that name pulumi.Config."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr == "Config"
            or isinstance(node, ast.alias) and node.name == "Config"]


def test_provider_modules_import_only_the_sdk_the_stdlib_and_each_other():
    sources = sorted(PROVIDERS.glob("*.py"))
    assert len(sources) >= len(PINNED)
    for path in sources:
        source = path.read_text()
        assert not foreign_imports(source), (
            f"{path.name} imports {foreign_imports(source)}: a provider module imports no lab/, components/ or "
            "tools/ code (the provider process imports it outside the program, for as long as a state names it)")
        assert not config_reads(source), f"{path.name}:{config_reads(source)}: a provider takes inputs, never config"


def test_the_checks_catch_a_provider_reading_the_lab():
    source = "import json\nfrom lab.config import parse\nfrom . import polling\nfrom pulumi import Config\n" \
             "import pulumi\nCONFIG = pulumi.Config()\n"
    assert foreign_imports(source) == ["lab.config"]
    assert config_reads(source) == [4, 6]
