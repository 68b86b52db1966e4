"""`make verify` (tools/verify/) against the fixture's real Keystone, Neutron, Nova API, Glance and Placement,
through a stack of the program in existing-cloud mode (stage networking): the real CLI path, the stack's
config and outputs and its secret `cloudsYaml` read through the Pulumi CLI, the SDK connection from it.

What needs no running instance is checked against the real services: the token, the catalog, the clean-up of
an earlier run's leftover (a floating IP with this prefix's exact marker, while one of a neighbour whose
prefix starts like ours stays), the compute services, hypervisors and L2 agents as the fixture really has them
(no nova-compute, so that check fails and says so), the networks the stack made, a volume create where the
fixture has Cinder (or the check's own skip with its reason), and no secret in the output. The test's own
objects and every expectation come from the release's `openstack` CLI, not from the SDK under test (the lab's
pinned openstacksdk, as `make verify` runs it on this host). Booting is for a real lab."""
from __future__ import annotations

import json
import re
import sys

import pytest

from apisupport import Opaque, cloud_config, init_stack, run
from support.secret_scan import assert_absent
from lab.naming import resource_prefix
from support import ROOT
from support.pulumi import clean_env

STACK = "apiverify"
PREFIX = resource_prefix("openstack-lab", STACK)
OUR_FIP = f"{PREFIX}-verify-fip"  # tools/verify/expectations.py Names.floating_ip
# A neighbour stack `apiverify-verify-x`: its marker starts with our stem `<prefix>-verify-` but is not ours.
NEIGHBOUR_FIP = f"{resource_prefix('openstack-lab', STACK + '-verify-x')}-verify-fip"
LINE = re.compile(r"^\[(ok|FAIL|skip)\s*\]\s+(\d+\.\d) s  ([^:]+): (.*)$")
CINDER_TYPES = {"volumev3", "block-storage", "volume"}
L2_TYPES = {"OVN Controller agent", "OVN Controller Gateway agent", "Open vSwitch agent", "Linux bridge agent"}


@pytest.fixture(scope="module")
def stack(fixture_cloud, pulumi_workspace):
    config = cloud_config(fixture_cloud, externalCidr="198.51.100.0/24", privateCidr="192.168.79.0/24",
                          dnsServers=["192.0.2.53"])
    pulumi = init_stack(pulumi_workspace, STACK, config, fixture_cloud.admin_password)
    pulumi.up(timeout=900)
    state = Opaque(pulumi=pulumi, cloud=fixture_cloud, workspace=pulumi_workspace, fips=[])
    yield state
    for fip in state["fips"]:
        fixture_cloud.openstack("floating", "ip", "delete", fip, check=False)
    pulumi.destroy(check=False, timeout=900)


def _floating_ip(stack, description: str) -> str:
    """A floating IP made with the release's own client (not the SDK under test); its ID."""
    made = _cli_json(stack, "floating", "ip", "create", "--description", description, f"{PREFIX}-external")
    stack["fips"].append(made["id"])
    return made["id"]


def _verify(stack) -> tuple[int, dict, str]:
    """`python -m tools.verify` as `make verify` runs it (the toolchain's pulumi on PATH, the stack's backend)."""
    ws = stack["workspace"]
    proc = run([sys.executable, "-m", "tools.verify", "--stack", STACK, "--cwd", str(ws.work_dir)],
               label="tools.verify", env=clean_env(ws.env), cwd=ROOT, timeout=900, check=False)
    lines = {}
    for line in proc.stdout.splitlines():
        match = LINE.match(line)
        if match:
            lines[match.group(3)] = (match.group(1), match.group(4))
    return proc.returncode, lines, proc.stdout + proc.stderr


def _cli_json(stack, *args):
    return json.loads(stack["cloud"].openstack(*args, "-f", "json").stdout)


def test_verify_against_the_fixture(stack):
    ours = _floating_ip(stack, OUR_FIP)
    neighbours = _floating_ip(stack, NEIGHBOUR_FIP)

    code, lines, output = _verify(stack)
    stack["first"] = (code, lines)
    assert_absent({"the admin password": stack["cloud"].admin_password}, output, "make verify's output")
    print(output)  # captured for the tier's secret scan (test_api_secret_hygiene.py)

    assert lines.get("token", ("",))[0] == "ok", output
    assert lines["catalog"][0] == "ok", output
    assert lines["leftovers"] == ("ok", "removed an earlier run's 1 floating IP(s)"), output
    remaining = {fip["ID"] for fip in _cli_json(stack, "floating", "ip", "list")}
    assert ours not in remaining, "the earlier run's floating IP is still there"
    assert neighbours in remaining, "the clean-up removed a neighbour stack's floating IP"

    status, detail = lines["networks"]
    assert status == "ok", output
    assert detail == (f"{PREFIX}-private (192.168.79.0/24) routed by {PREFIX}-router to {PREFIX}-external")

    computes = _cli_json(stack, "compute", "service", "list", "--service", "nova-compute")
    if computes:
        assert lines["compute services"][0] in ("ok", "FAIL"), output
    else:
        assert lines["compute services"] == ("FAIL", "Nova lists no nova-compute service: nothing can boot a server")
        assert lines["hypervisors"] == ("skip", "not run: needs compute services")

    agents = [a for a in _cli_json(stack, "network", "agent", "list") if a["Agent Type"] in L2_TYPES]
    status, detail = lines["network agents"]
    if not agents:
        assert status == "FAIL" and detail.startswith("Neutron lists no OVN Controller agent"), output
    else:
        assert status == ("ok" if all(a["Alive"] for a in agents) else "FAIL"), output

    # Stage demo is not declared (stopAfter: networking): nothing to boot with, said so.
    assert lines["boot kit"] == ("skip", "stage demo not declared (stopAfter): no image, keypair or security "
                                         "group to boot with"), output
    assert lines["servers"][0] == "skip" and lines["volume attach"][0] == "skip", output

    catalog = {entry["Type"] for entry in _cli_json(stack, "catalog", "list")}
    if catalog & CINDER_TYPES:
        assert lines["volume create"][0] == "ok", output
    else:  # one check's skip with its reason (the tier itself ran)
        assert lines["volume create"] == ("skip", "no Cinder (volumev3) in the catalog"), output
        print("volume create skipped: the fixture has no Cinder")
    if "object-store" not in catalog:
        assert lines["object store"] == ("skip", "no Swift (object-store) in the catalog"), output

    assert lines["clean-up"][0] == "ok", output
    failed = [name for name, (status, _) in lines.items() if status == "FAIL"]
    assert code == (1 if failed else 0), f"exit {code} with failures {failed}:\n{output}"
    assert re.search(rf"^verify {'FAILED' if failed else 'passed'}: \d+ ok, {len(failed)} failed", output, re.M)


def test_second_run_finds_nothing_left(stack):
    assert "first" in stack, "the first run did not happen"
    code, lines, output = _verify(stack)
    assert_absent({"the admin password": stack["cloud"].admin_password}, output, "make verify's output")
    assert lines["leftovers"] == ("ok", f"none from an earlier run ({PREFIX}-verify-*)"), output
    assert code == stack["first"][0]


def test_unreadable_stack_says_so(stack):
    """A stack without outputs: one line naming what to do, exit 2, nothing touched."""
    ws = stack["workspace"]
    ws.run("stack", "init", "apiverify-empty", "--secrets-provider", "passphrase")
    try:
        proc = run([sys.executable, "-m", "tools.verify", "--stack", "apiverify-empty", "--cwd", str(ws.work_dir)],
                   label="tools.verify (no outputs)", env=clean_env(ws.env), cwd=ROOT, timeout=300, check=False)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "has no cloudsYaml output yet: run `make up`" in proc.stdout
    finally:
        ws.run("stack", "rm", "--yes", "--stack", "apiverify-empty", check=False)
