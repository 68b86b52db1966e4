"""What only test_e2e_multihost.py needs: a guest made outside the stack (the "existing machine"). The LAN
between the two private libvirtds is support.lan.Lan (shared with the engine tier's second host over SSH).

`ExistingGuest` is a QEMU guest defined and started with virsh through a libvirt URI (host B's socket), never
through the stack: a qcow2 overlay on the e2e image's disk, direct kernel boot like the lab's nodes, a NoCloud
seed ISO (volume label `cidata`) with the login public key for root, an ed25519 host key the test generated,
and a network-config v2 with a static address on eth0 and eth1 without any; its NICs are `type='bridge'` on
the host's LAN bridges.
"""
from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from xml.sax.saxutils import escape

import yaml

from e2esupport import log, run
from support.lan import EXT_BRIDGE, MGMT_BRIDGE


# -- the machine the lab does not create --------------------------------------------------------------
@dataclass
class ExistingGuest:
    """A guest the test defines and starts outside the stack (see the module docstring)."""

    name: str  # hostname and libvirt domain name
    uri: str  # libvirt URI of its host (host B)
    directory: Path  # its disk, seed ISO and console log
    address: str  # static eth0 address
    prefix: int
    gateway: str
    management_mac: str
    external_mac: str
    image: dict  # the e2e image fixture: disk, kernel, initrd, cmdline
    authorized_key: str
    host_key_private: str
    host_key_public: str
    memory_mib: int = 768
    hypervisor: str = "qemu"
    # the files it keeps in its directory
    disk: Path = field(init=False)
    seed: Path = field(init=False)
    console_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.disk, self.seed, self.console_log = (
            self.directory / name for name in ("disk.qcow2", "seed.iso", "console.log"))

    def user_data(self) -> str:
        doc = {
            "hostname": self.name,
            "manage_etc_hosts": False,
            "disable_root": False,
            "ssh_pwauth": False,
            "ssh_authorized_keys": [self.authorized_key.strip()],
            "ssh_deletekeys": True,
            "ssh_keys": {"ed25519_private": self.host_key_private.strip() + "\n",
                         "ed25519_public": self.host_key_public.strip()},
            # /etc/hosts with the machine's own name: the lab's sync-hosts replaces it with the lab's.
            "write_files": [{"path": "/etc/hosts", "permissions": "0644",
                             "content": f"127.0.0.1 localhost\n{self.address} {self.name}\n"}],
        }
        return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False, width=4096)

    def network_config(self) -> str:
        doc = {"version": 2, "ethernets": {
            "eth0": {"match": {"macaddress": self.management_mac}, "set-name": "eth0", "dhcp4": False,
                     "dhcp6": False, "addresses": [f"{self.address}/{self.prefix}"],
                     "routes": [{"to": "0.0.0.0/0", "via": self.gateway}],
                     "nameservers": {"addresses": [self.gateway]}},
            "eth1": {"match": {"macaddress": self.external_mac}, "set-name": "eth1", "dhcp4": False,
                     "dhcp6": False, "accept-ra": False},
        }}
        return yaml.safe_dump(doc, sort_keys=False)

    def domain_xml(self) -> str:
        cmdline = escape(self.image["cmdline"])
        nics = "".join(textwrap.dedent(f"""
            <interface type='bridge'>
              <mac address='{mac}'/>
              <source bridge='{bridge}'/>
              <model type='virtio'/>
            </interface>""") for mac, bridge in ((self.management_mac, MGMT_BRIDGE),
                                                  (self.external_mac, EXT_BRIDGE)))
        cpu = "<cpu mode='host-passthrough'/>" if self.hypervisor == "kvm" else "<cpu mode='maximum'/>"
        return textwrap.dedent(f"""\
            <domain type='{self.hypervisor}'>
              <name>{self.name}</name>
              <memory unit='MiB'>{self.memory_mib}</memory>
              <vcpu>1</vcpu>
              <os>
                <type arch='x86_64'>hvm</type>
                <kernel>{escape(self.image['kernel'])}</kernel>
                <initrd>{escape(self.image['initrd'])}</initrd>
                <cmdline>{cmdline}</cmdline>
              </os>
              {cpu}
              <devices>
                <disk type='file' device='disk'>
                  <driver name='qemu' type='qcow2'/>
                  <source file='{self.disk}'/>
                  <target dev='vda' bus='virtio'/>
                </disk>
                <disk type='file' device='cdrom'>
                  <driver name='qemu' type='raw'/>
                  <source file='{self.seed}'/>
                  <target dev='hdc' bus='ide'/>
                  <readonly/>
                </disk>
                {nics}
                <serial type='file'>
                  <source path='{self.console_log}'/>
                  <target port='0'/>
                </serial>
              </devices>
            </domain>
            """)

    def virsh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["virsh", "-q", "-c", self.uri, *args], check=check, timeout=120)

    def start(self) -> "ExistingGuest":
        self.directory.mkdir(parents=True, exist_ok=True)
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", self.image["disk"], str(self.disk), "4G"])
        seed_dir = self.directory / "seed"
        seed_dir.mkdir(exist_ok=True)
        (seed_dir / "user-data").write_text(self.user_data())
        (seed_dir / "meta-data").write_text(yaml.safe_dump({"instance-id": f"{self.name}-1",
                                                            "local-hostname": self.name}))
        (seed_dir / "network-config").write_text(self.network_config())
        run(["genisoimage", "-quiet", "-output", str(self.seed), "-volid", "cidata", "-joliet", "-rock",
             str(seed_dir / "user-data"), str(seed_dir / "meta-data"), str(seed_dir / "network-config")])
        for path in seed_dir.iterdir():  # the user-data carries the host's private key
            path.unlink()
        seed_dir.rmdir()
        xml = self.directory / "domain.xml"
        xml.write_text(self.domain_xml())
        self.virsh("define", str(xml))
        self.virsh("start", self.name)
        log(f"existing machine {self.name} started on {self.uri} ({self.address})")
        return self

    def state(self) -> str:
        return self.virsh("domstate", self.name, check=False).stdout.strip()

    def domain_id(self) -> Optional[str]:
        out = self.virsh("domuuid", self.name, check=False)
        return out.stdout.strip() if out.returncode == 0 else None

    def remove(self) -> None:
        self.virsh("destroy", self.name, check=False)
        self.virsh("undefine", self.name, check=False)
