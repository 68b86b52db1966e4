"""The lab's cloud-init documents through cloud-init's own code (the unit tier's honest stand-in for a boot).

CentOS Stream 9 boots with cloud-init 24.4. Every check that reads cloud-init's verdict runs once per
release in cloudinit_real.RELEASES, 22.4 (Debian 12, what the e2e guest boots with) and 25.1 (Debian 13,
past EL9's 24.4), and its id names the release (`[cloud-init-25.1-controller]`). Each release is Debian's
`cloud-init` package, downloaded and unpacked (never installed) into ~/.cache/openstack-lab/cloud-init/
<version>/ and run under Debian's /usr/bin/python3 with the package's Python dependencies installed as
Debian packages (tests/unit/cloudinit_real.py, tests/unit/cloudinit_driver.py). Per node (a controller
and a compute with the lab's own names, MACs and addresses, throwaway ed25519 keys):

* user-data: cloud-init's part type, the schema (library, strict; the `cloud-init schema` handler) and the
  validation the boot runs, whose every WARNING or deprecation record fails the test (24.x counts them as
  recoverable errors: `cloud-init status` exits 2 and the lab's boot wait fails the node); no runcmd that
  can fail on a distro lacking a unit. A canary document with a deprecated key proves those checks fail.
* network-config: the v2 schema the boot validates (23.x+; 22.4 has none, which its own test asserts),
  canary included; rendered by cloud-init's sysconfig (RHEL flavour), NetworkManager and networkd
  renderers into a target root each; eth0 must come out static exactly as declared, eth1 up with no
  IPv4/IPv6 address. For NetworkManager the lab's own keyfile (shipped in the user-data's write_files)
  competes with cloud-init's profiles the way NetworkManager chooses: among the autoconnect profiles
  matching the device, the highest autoconnect-priority wins (after the keyfiles are loaded; on first
  boot scripts/external-nic.sh does the `nmcli connection reload` + `up`). Where the releases differ
  (networkd and accept-ra), EXPECTED says what each one does and the test asserts exactly that.
* the login: cloud-init's merge of an EL9 image's cloud.cfg with the user-data, its users_groups module
  and its ssh module's key placement: which accounts exist and which get the lab's login key.
"""
from __future__ import annotations

import configparser
import ipaddress
import logging
import shlex
import uuid
from dataclasses import dataclass

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import cloudinit_real
from lab import naming
from lab.cloudinit import NodeIdentity, network_config, user_data
from labtest import require

PROJECT, STACK = "openstack-lab", "alice"
MANAGEMENT_CIDR, _EXTERNAL_CIDR = naming.derived_cidrs(STACK, "10.208.0.0/12")
GATEWAY = naming.host_address(MANAGEMENT_CIDR, 1)
NODES = ["controller", "compute1"]
NM_DIR = "etc/NetworkManager/system-connections"


def identity(node: str) -> NodeIdentity:
    return NodeIdentity(
        hostname=node,
        fqdn=naming.fqdn(node, STACK),
        management_ip=naming.node_address(MANAGEMENT_CIDR, NODES.index(node)),
        management_cidr=MANAGEMENT_CIDR,
        management_gateway=GATEWAY,
        management_mac=naming.mac_address(PROJECT, STACK, node, 0),
        external_mac=naming.mac_address(PROJECT, STACK, node, 1),
        dns_domain=naming.dns_domain(STACK),
    )


def throwaway_ed25519(comment: str) -> tuple[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


def documents(node: str) -> dict[str, str]:
    ident = identity(node)
    _, login_public = throwaway_ed25519("lab-login")
    host_private, host_public = throwaway_ed25519(f"root@{ident.fqdn}")
    controller = identity("controller")
    hosts = list(dict.fromkeys([(controller.management_ip, controller.fqdn, "controller"),
                                (ident.management_ip, ident.fqdn, node)]))
    return {"user_data": user_data(ident, login_public, host_private, host_public, hosts),
            "network_config": network_config(ident)}


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, str]]:
    return {node: documents(node) for node in NODES}


@dataclass(frozen=True)
class Expected:
    """What one release does where the releases differ."""
    cli_valid: str  # the `cloud-init schema --config-file` line for a valid file
    network_schema: bool  # validates network-config against its v2 schema (at boot and in the CLI)
    # networkd renderer, eth1 (no subnets, accept-ra: false): 22.4 writes IPv6AcceptRA only together with
    # DHCP=ipv6/yes (22.4.2 net/networkd.py parse_subnets), so the unit accepts RAs; 24.x+ writes it from
    # the interface's accept-ra (25.1 net/networkd.py:209). A 22.4 networkd guest gets IPv6 switched off
    # on eth1 by scripts/external-nic.sh at prep time.
    networkd_eth1_accepts_ra: bool


EXPECTED = {
    "22.4": Expected(cli_valid="Valid cloud-config: {path}", network_schema=False, networkd_eth1_accepts_ra=True),
    "25.1": Expected(cli_valid="Valid schema {path}", network_schema=True, networkd_eth1_accepts_ra=False),
}
RELEASES = {r.series: r for r in cloudinit_real.RELEASES}
assert set(EXPECTED) == set(RELEASES), "every release needs its expectations"

# An EL9 GenericCloud image's /etc/cloud/cloud.cfg, the keys that decide logins: facts of cloud-init's
# config/cloud.cfg.tmpl rendered for the RHEL family (`is_rhel`: users [default], disable_root true,
# ssh_pwauth false; default_user cloud-user, locked password, groups adm and systemd-journal,
# sudo ALL=(ALL) NOPASSWD:ALL, /bin/bash).
EL9_CLOUD_CFG = yaml.safe_dump({
    "users": ["default"],
    "disable_root": True,
    "ssh_pwauth": False,
    "system_info": {
        "distro": "rhel",
        "default_user": {"name": "cloud-user", "lock_passwd": True, "gecos": "Cloud User",
                         "groups": ["adm", "systemd-journal"], "sudo": ["ALL=(ALL) NOPASSWD:ALL"],
                         "shell": "/bin/bash"},
    },
})
EL9_DEFAULT_USER = "cloud-user"
CANARY = "canary"


def canary_documents(docs: dict[str, dict[str, str]]) -> dict[str, str]:
    """The controller's documents with one deprecated user-data key (apt_update: deprecated in 22.4 and
    25.1 alike) and one network-config value the v2 schema refuses: the checks below must catch both."""
    user = yaml.safe_load(docs["controller"]["user_data"])
    user["apt_update"] = False
    network = yaml.safe_load(docs["controller"]["network_config"])
    network["ethernets"]["eth1"]["dhcp4"] = "sometimes"
    return {"user_data": "#cloud-config\n" + yaml.safe_dump(user, sort_keys=False, width=4096),
            "network_config": yaml.safe_dump(network, sort_keys=False)}


@pytest.fixture(scope="module", params=[r.series for r in cloudinit_real.RELEASES],
                ids=[r.id for r in cloudinit_real.RELEASES])
def real(request, docs, tmp_path_factory) -> dict:
    """One release's verdicts and renderings for every node and the canary (one driver run per release)."""
    release = RELEASES[request.param]
    try:
        dist, deb_version = cloudinit_real.ensure(release)
    except cloudinit_real.Unavailable as e:
        require(False, f"cloud-init {release.series} ({release.debian}) is not available: {e}")
    cases = {**docs, CANARY: canary_documents(docs)}
    workdir = tmp_path_factory.mktemp(release.id)
    result = cloudinit_real.run(dist, cases, workdir, system_cfg=EL9_CLOUD_CFG)
    line = (f"cloud-init stand-in: {release.debian} cloud-init {deb_version} (cloud-init {result['cloud_init']}, "
            f"jsonschema {result['jsonschema']}, python {result['python']}) from {dist}")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)
    print(line)  # also in the captured output of a failing test
    result.update(deb_version=deb_version, release=release, expected=EXPECTED[release.series], workdir=workdir)
    return result


# --- the driver's verdicts --------------------------------------------------------------------------


def step(real: dict, case: str, *keys: str) -> dict:
    """One step of the driver's run for `case` (e.g. "user_data", or "renderers", "networkd"); a step
    that raised inside cloud-init fails the test with cloud-init's traceback."""
    out = real["cases"][case]
    for key in keys:
        out = out[key]
    assert "error" not in out, f"cloud-init {real['cloud_init']}, {case} {'/'.join(keys)}:\n{out['error']}"
    return out


def loud(records: list[dict]) -> list[str]:
    """The records a 24.x boot counts as recoverable errors (WARNING and above, DEPRECATED is 35), and
    any deprecation logged below that (releases log deprecations older than the distro's boundary at INFO)."""
    return [f"{r['level']} {r['logger']}: {r['message']}" for r in records
            if r["levelno"] >= logging.WARNING or "deprecat" in r["message"].lower()]


def rendered(real: dict, node: str, renderer: str) -> dict[str, dict]:
    return step(real, node, "renderers", renderer)["files"]


def renderer_records(real: dict, node: str, renderer: str) -> list[str]:
    return loud(step(real, node, "renderers", renderer)["records"])


# The driver's steps per document: (strict + CLI, the boot's own call).
SCHEMA_STEPS = {"user-data": ("user_data", "user_data_boot"), "network-config": ("network_schema", "network_boot")}


def schema_problems(real: dict, case: str, document: str) -> list[str]:
    """Everything cloud-init holds against one document ("user-data" or "network-config") of `case`:
    the strict schema verdict, the boot's own validation and its records, the schema CLI's answer."""
    version, problems = real["cloud_init"], []
    checked_step, boot_step = SCHEMA_STEPS[document]
    checked = step(real, case, checked_step)
    if checked.get("part_type", "text/cloud-config") != "text/cloud-config":
        problems.append(f"cloud-init {version} takes the user-data for {checked['part_type']}")
    problems += [f"cloud-init {version} schema error: {p}" for p in checked["strict"]["errors"]]
    problems += [f"cloud-init {version} deprecated: {p}" for p in checked["strict"]["deprecations"]]
    boot = step(real, case, boot_step)
    if not boot["validated"]:
        problems.append(f"cloud-init {version} skipped the boot's {document} validation")
    problems += [f"cloud-init {version} boot validation logged {r}" for r in loud(boot["records"])]
    cli, path = checked["cli"], real["workdir"] / case / document
    if cli["rc"] != 0 or cli["stdout"].strip() != real["expected"].cli_valid.format(path=path) or cli["stderr"]:
        problems.append(f"cloud-init {version} `cloud-init schema` on the {document}: {cli}")
    return problems


# --- small parsers for what the renderers wrote ------------------------------------------------------


def ifcfg(files: dict, name: str) -> dict[str, str]:
    text = files[f"etc/sysconfig/network-scripts/ifcfg-{name}"]["text"]
    values = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = " ".join(shlex.split(value))
    return values


def networkd_units(files: dict) -> list[list[tuple[str, str, str]]]:
    """Every .network file as [(section, key, value)] (sections and keys may repeat)."""
    units = []
    for path, entry in files.items():
        if not path.endswith(".network"):
            continue
        section, entries = "", []
        for line in entry["text"].splitlines():
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
            else:
                key, _, value = line.partition("=")
                entries.append((section, key.strip(), value.strip()))
        units.append(entries)
    return units


def networkd_unit_for(files: dict, mac: str, name: str) -> list[tuple[str, str, str]]:
    """networkd applies the first .network file (lexical order) whose [Match] fits the link."""
    for unit in networkd_units(files):
        match = {k: v for s, k, v in unit if s == "Match"}
        macs = [m.lower() for m in match.get("MACAddress", "").split()]
        names = match.get("Name", "").split()
        if (not macs or mac.lower() in macs) and (not names or name in names) and (macs or names):
            return unit
    raise AssertionError(f"no .network file matches {name} ({mac}): {sorted(files)}")


def systemd_bool(value: str) -> bool:
    low = value.strip().lower()
    if low in ("1", "yes", "y", "true", "t", "on"):
        return True
    if low in ("0", "no", "n", "false", "f", "off"):
        return False
    raise AssertionError(f"not a systemd boolean: {value!r}")


def keyfile(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keyfile keys are case-sensitive
    parser.read_string(text)
    return parser


def write_files(user_data_text: str) -> list[dict]:
    return yaml.safe_load(user_data_text).get("write_files") or []


def lab_keyfiles(user_data_text: str) -> dict[str, dict]:
    return {f["path"]: f for f in write_files(user_data_text)
            if f["path"].startswith(f"/{NM_DIR}/") and f["path"].endswith(".nmconnection")}


def nm_profiles(real: dict, docs: dict, node: str, with_lab: bool = True) -> dict[str, configparser.ConfigParser]:
    profiles = {path: keyfile(entry["text"]) for path, entry in rendered(real, node, "network-manager").items()
                if path.startswith(NM_DIR + "/") and path.endswith(".nmconnection")}
    if with_lab:
        profiles.update({path: keyfile(f["content"]) for path, f in lab_keyfiles(docs[node]["user_data"]).items()})
    return profiles


def nm_autoconnect_choice(profiles: dict[str, configparser.ConfigParser], device: str, mac: str):
    """The profile NetworkManager autoconnects on an ethernet device: among the profiles that may
    autoconnect and match it (mac-address / interface-name), the highest connection.autoconnect-priority
    (default 0). A tie at the top would be decided by last-use timestamps: not deterministic, refused."""
    candidates = []
    for path, p in profiles.items():
        if p.get("connection", "type", fallback=None) not in ("ethernet", "802-3-ethernet"):
            continue
        if p.getboolean("connection", "autoconnect", fallback=True) is False:
            continue
        profile_mac = p.get("ethernet", "mac-address", fallback=None)
        ifname = p.get("connection", "interface-name", fallback=None)
        if profile_mac is not None and profile_mac.lower() != mac.lower():
            continue
        if ifname is not None and ifname != device:
            continue
        candidates.append((p.getint("connection", "autoconnect-priority", fallback=0), path, p))
    assert candidates, f"no NetworkManager profile matches {device} ({mac}) among {sorted(profiles)}"
    candidates.sort(key=lambda c: c[0], reverse=True)
    top = [c for c in candidates if c[0] == candidates[0][0]]
    assert len(top) == 1, f"{device}: profiles tie at autoconnect-priority {top[0][0]}: {[c[1] for c in top]}"
    return top[0][1], top[0][2]


def nm_method(profile: configparser.ConfigParser, family: str) -> str:
    # NetworkManager's default for an ethernet profile without [ipv4]/[ipv6]: auto (DHCPv4; IPv6 RA/DHCPv6).
    return profile.get(family, "method", fallback="auto")


# --- cloud-init itself ------------------------------------------------------------------------------


def test_cloud_init_stand_in_is_the_release_named(real):
    release = real["release"]
    assert real["cloud_init_path"].startswith(str(cloudinit_real.CACHE)), real["cloud_init_path"]
    assert real["cloud_init"].startswith(release.series + "."), \
        f"{release.debian} ({release.suite}) now ships cloud-init {real['cloud_init']}: update RELEASES and EXPECTED"
    assert real["jsonschema"], real


# --- user-data ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("node", NODES)
def test_user_data_passes_cloud_init_schema_and_boot_validation(real, node):
    assert schema_problems(real, node, "user-data") == []


def test_a_deprecated_user_data_key_fails_the_check(real):
    problems = schema_problems(real, CANARY, "user-data")
    assert any("deprecated" in p and "apt_update" in p for p in problems), problems
    assert any("boot validation logged" in p and "apt_update" in p for p in problems), problems


@pytest.mark.parametrize("node", NODES)
def test_user_data_has_no_command_that_fails_where_a_unit_is_absent(docs, node):
    """EL9 has sshd.service only, Debian ssh.service too: `systemctl try-reload-or-restart sshd.service
    ssh.service` exits 5 on EL9, cloud-init records an error, `cloud-init status --wait` exits 1."""
    doc = yaml.safe_load(docs[node]["user_data"])
    for key in ("runcmd", "bootcmd"):
        for command in doc.get(key) or []:
            text = command if isinstance(command, str) else " ".join(str(part) for part in command)
            guarded = text.rstrip().endswith(("|| true", "|| :", "|| exit 0"))
            assert guarded, f"{key} entry can fail the boot (unguarded): {command!r}"


# --- network-config: the v2 schema the boot validates ----------------------------------------------


@pytest.mark.parametrize("node", NODES)
def test_network_config_passes_the_v2_schema_each_release_has(real, node):
    supported = step(real, node, "network_schema")["supported"]
    assert supported == real["expected"].network_schema, \
        f"cloud-init {real['cloud_init']}: network-config schema {'present' if supported else 'absent'}"
    if supported:
        assert schema_problems(real, node, "network-config") == []


def test_an_invalid_network_config_fails_the_schema_check(real):
    if not real["expected"].network_schema:
        assert step(real, CANARY, "network_schema") == {"supported": False, "records": []}
        return
    problems = schema_problems(real, CANARY, "network-config")
    assert any("schema error" in p and "dhcp4" in p for p in problems), problems
    assert any("boot validation logged" in p for p in problems), problems


# --- network-config: sysconfig (RHEL flavour, RHEL 9's cloud-init renderer) ----------------------


@pytest.mark.parametrize("node", NODES)
def test_sysconfig_eth0_static_as_declared(real, node):
    ident = identity(node)
    files = rendered(real, node, "sysconfig")
    eth0 = ifcfg(files, "eth0")
    prefix = ipaddress.ip_network(MANAGEMENT_CIDR).prefixlen
    assert eth0.get("HWADDR", "").lower() == ident.management_mac
    assert eth0.get("ONBOOT") == "yes" and eth0.get("BOOTPROTO") in ("none", "static"), eth0
    assert eth0.get("IPADDR") == ident.management_ip, eth0
    if "PREFIX" in eth0:
        assert int(eth0["PREFIX"]) == prefix, eth0
    else:
        assert eth0.get("NETMASK") == str(ipaddress.ip_network(MANAGEMENT_CIDR).netmask), eth0
    assert eth0.get("GATEWAY") == GATEWAY and eth0.get("DEFROUTE") == "yes", eth0
    assert eth0.get("DNS1") == GATEWAY and eth0.get("DOMAIN") == ident.dns_domain, eth0
    assert not any(k.startswith(("IPADDR1", "IPV6ADDR", "DHCPV6C")) for k in eth0), eth0
    assert renderer_records(real, node, "sysconfig") == []


@pytest.mark.parametrize("node", NODES)
def test_sysconfig_eth1_up_without_any_address(real, node):
    ident = identity(node)
    files = rendered(real, node, "sysconfig")
    eth1 = ifcfg(files, "eth1")
    assert eth1.get("HWADDR", "").lower() == ident.external_mac
    assert eth1.get("BOOTPROTO") == "none" and eth1.get("ONBOOT") == "yes", eth1
    assert not any(k.startswith(("IPADDR", "NETMASK", "PREFIX", "GATEWAY", "IPV6ADDR")) for k in eth1), eth1
    assert eth1.get("IPV6INIT", "no") != "yes" and "DHCPV6C" not in eth1, eth1
    assert eth1.get("IPV6_AUTOCONF", "no") != "yes" and eth1.get("IPV6_FORCE_ACCEPT_RA", "no") != "yes", eth1
    assert not any(p.endswith(("route-eth1", "route6-eth1")) for p in files), sorted(files)


# --- network-config: NetworkManager (upstream default for the RHEL family since 24.2) --------------


@pytest.mark.parametrize("node", NODES)
def test_networkmanager_eth0_static_as_declared(real, docs, node):
    ident = identity(node)
    path, eth0 = nm_autoconnect_choice(nm_profiles(real, docs, node), "eth0", ident.management_mac)
    prefix = ipaddress.ip_network(MANAGEMENT_CIDR).prefixlen
    assert eth0.get("ethernet", "mac-address").lower() == ident.management_mac, path
    assert nm_method(eth0, "ipv4") == "manual", path
    ipv4 = dict(eth0["ipv4"])
    assert [v for k, v in ipv4.items() if k.startswith("address")] == [f"{ident.management_ip}/{prefix}"], ipv4
    default_routes = [v for k, v in ipv4.items() if k.startswith("route") and v.split(",")[0] == "0.0.0.0/0"]
    assert ipv4.get("gateway") == GATEWAY or default_routes == [f"0.0.0.0/0,{GATEWAY}"], ipv4
    assert [d for d in ipv4.get("dns", "").split(";") if d] == [GATEWAY], ipv4
    assert [d for d in ipv4.get("dns-search", "").split(";") if d] == [ident.dns_domain], ipv4
    assert renderer_records(real, node, "network-manager") == []


@pytest.mark.parametrize("node", NODES)
def test_networkmanager_autoconnects_eth1_without_ipv4_or_ipv6(real, docs, node):
    ident = identity(node)
    path, profile = nm_autoconnect_choice(nm_profiles(real, docs, node), "eth1", ident.external_mac)
    assert (nm_method(profile, "ipv4"), nm_method(profile, "ipv6")) == ("disabled", "disabled"), \
        f"NetworkManager would autoconnect {path} on eth1: ipv4.method={nm_method(profile, 'ipv4')}, " \
        f"ipv6.method={nm_method(profile, 'ipv6')}"


@pytest.mark.parametrize("node", NODES)
def test_cloud_init_networkmanager_rendering_alone_leaves_eth1_on_dhcp(real, docs, node):
    """Why the lab ships its own eth1 keyfile: cloud-init's NetworkManager renderer gives an interface
    without subnets no [ipv4]/[ipv6] section, so NetworkManager would run DHCPv4 + IPv6 auto on eth1.
    Should a cloud-init release render method=disabled itself, this fails and the keyfile can go."""
    ident = identity(node)
    path, profile = nm_autoconnect_choice(nm_profiles(real, docs, node, with_lab=False), "eth1", ident.external_mac)
    assert nm_method(profile, "ipv4") != "disabled", f"cloud-init {real['cloud_init']} now disables IPv4 in {path}"


@pytest.mark.parametrize("node", NODES)
def test_lab_eth1_keyfile_is_a_valid_networkmanager_keyfile(docs, node):
    ident = identity(node)
    files = lab_keyfiles(docs[node]["user_data"])
    assert len(files) == 1, f"expected one lab NetworkManager keyfile in write_files, got {sorted(files)}"
    (path, entry), = files.items()
    # NetworkManager ignores keyfiles that others can read or that root does not own.
    assert str(entry.get("permissions")) == "0600", entry.get("permissions")
    assert entry.get("owner", "root:root") in ("root", "root:root"), entry.get("owner")
    assert entry.get("encoding", "text/plain") == "text/plain" and not entry.get("append"), entry
    profile = keyfile(entry["content"])
    assert profile.get("connection", "type") == "ethernet"
    assert profile.get("connection", "id", fallback="").strip(), "connection.id is empty"
    if profile.has_option("connection", "uuid"):
        uuid.UUID(profile.get("connection", "uuid"))
    assert profile.getboolean("connection", "autoconnect", fallback=True) is True
    assert profile.getint("connection", "autoconnect-priority") > 0
    assert profile.get("ethernet", "mac-address").lower() == ident.external_mac
    ifname = profile.get("connection", "interface-name", fallback="eth1")
    assert ifname == "eth1", ifname
    assert (profile.get("ipv4", "method"), profile.get("ipv6", "method")) == ("disabled", "disabled")


# --- network-config: networkd --------------------------------------------------------------------


@pytest.mark.parametrize("node", NODES)
def test_networkd_eth0_static_as_declared(real, node):
    ident = identity(node)
    unit = networkd_unit_for(rendered(real, node, "networkd"), ident.management_mac, "eth0")
    prefix = ipaddress.ip_network(MANAGEMENT_CIDR).prefixlen
    values = lambda key: [v for _, k, v in unit if k == key]  # noqa: E731
    assert values("Address") == [f"{ident.management_ip}/{prefix}"], unit
    assert not any(systemd_bool(v) for v in values("DHCP") if v not in ("ipv4", "ipv6")) \
        and not {"ipv4", "ipv6"} & set(values("DHCP")), unit
    routes = [(s, k, v) for s, k, v in unit if s == "Route"]
    assert ("Route", "Destination", "0.0.0.0/0") in routes and ("Route", "Gateway", GATEWAY) in routes, unit
    assert " ".join(values("DNS")).split() == [GATEWAY], unit
    assert " ".join(values("Domains")).split() == [ident.dns_domain], unit
    assert renderer_records(real, node, "networkd") == []


@pytest.mark.parametrize("node", NODES)
def test_networkd_eth1_up_without_address_or_dhcp(real, node):
    ident = identity(node)
    unit = networkd_unit_for(rendered(real, node, "networkd"), ident.external_mac, "eth1")
    assert not [v for _, k, v in unit if k in ("Address", "Gateway")], unit
    for value in [v for _, k, v in unit if k == "DHCP"]:
        assert value not in ("ipv4", "ipv6") and not systemd_bool(value), unit


@pytest.mark.parametrize("node", NODES)
def test_networkd_eth1_router_advertisements_as_each_release_renders_them(real, docs, node):
    """networkd accepts RAs unless IPv6AcceptRA=no or IPv6 link-local addressing is off. The lab asks for
    accept-ra: false; what each release makes of it is EXPECTED's networkd_eth1_accepts_ra."""
    ident = identity(node)
    assert yaml.safe_load(docs[node]["network_config"])["ethernets"]["eth1"]["accept-ra"] is False
    unit = networkd_unit_for(rendered(real, node, "networkd"), ident.external_mac, "eth1")
    accept_ra = [systemd_bool(v) for s, k, v in unit if s == "Network" and k == "IPv6AcceptRA"]
    link_local = [v.lower() for s, k, v in unit if s == "Network" and k == "LinkLocalAddressing"]
    accepts = accept_ra[-1] if accept_ra else not (link_local and link_local[-1] in ("no", "false", "ipv4"))
    assert accepts == real["expected"].networkd_eth1_accepts_ra, \
        f"cloud-init {real['cloud_init']}: eth1 {'accepts' if accepts else 'refuses'} RAs under networkd: {unit}"


# --- the login: what an EL9 image's cloud.cfg adds to the user-data ----------------------------------


@pytest.mark.parametrize("node", NODES)
def test_el9_default_user_gets_the_login_key_and_passwordless_sudo_as_root_does(real, docs, node):
    """Kept on purpose (README "Logins"): the user-data declares no `users`, so the image's `users:
    [default]` stands and cloud-init creates cloud-user (locked password, NOPASSWD sudo) with the lab's
    login key, beside root. The key already opens root, so cloud-user grants its holder nothing more;
    declaring `users` instead would change every node's user-data and so replace every existing VM."""
    login_key = yaml.safe_load(docs[node]["user_data"])["ssh_authorized_keys"]
    made = step(real, node, "credentials")
    assert made["distro"] == "rhel" and made["default_user"] == EL9_DEFAULT_USER, made
    assert sorted(made["created"]["users"]) == [EL9_DEFAULT_USER], made["created"]
    user = made["created"]["users"][EL9_DEFAULT_USER]
    assert user.get("sudo") == ["ALL=(ALL) NOPASSWD:ALL"] and user.get("lock_passwd") is True, user
    assert not {"passwd", "hashed_passwd", "plain_text_passwd"} & set(user), user
    assert made["merged"]["ssh_pwauth"] is False and made["merged"]["disable_root"] is False, made["merged"]
    keys = {entry["user"]: entry for entry in made["authorized"]}
    assert sorted(keys) == sorted(["root", EL9_DEFAULT_USER]), made["authorized"]
    assert keys[EL9_DEFAULT_USER]["keys"] == login_key, keys
    # root's key without disable_root's command= prefix ("Please login as the user ..."): the lab logs in as root.
    assert keys["root"]["keys"] == login_key and keys["root"]["options"] == "", keys["root"]
    assert loud(made["records"]) == []
