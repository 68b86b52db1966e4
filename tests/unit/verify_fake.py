"""A fake cloud for tools/verify/'s unit tests: the SDK connection's attributes the checks use (compute,
network, image, block_storage, object_store proxies, authorize, the catalog), over a small in-memory state
that behaves as the real services do for these calls (a server pinned `zone:host` lands there and turns
ACTIVE, a floating IP on its port answers ping, an attached volume shows in the guest by its serial), and a
fake guest access (ping/ssh) that reads the same state. Tests break one piece to make one check fail;
make_context and run_all run `make verify`'s steps and clean-up on it and collect the lines."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Optional

from tools.verify.cleanup import Cleanup
from tools.verify.context import Context
from tools.verify.expectations import BootKit, Expectations, Timeouts
from tools.verify.guest import Reply
from tools.verify.runner import Printer
from tools.verify.session import verify
from tools.verify.steps import steps

PREFIX = "openstack-lab-alice"
PASSWORD = "s3cret-Pa55word-xyz"
FQDN = "{}.alice.lab.internal"
_ids = itertools.count(1)


def new_id(kind: str) -> str:
    return f"{kind}-{next(_ids):04d}-0000-0000-0000-000000000000"


def obj(**attrs: Any) -> SimpleNamespace:
    return SimpleNamespace(**attrs)


def lab_expectations(computes: tuple[str, ...] = ("compute1", "compute2"), **overrides: Any) -> Expectations:
    values: dict[str, Any] = dict(
        prefix=PREFIX, existing_cloud=False, computes=computes, network_nodes=("controller", *computes),
        l2_agent="ovn", private_network=f"{PREFIX}-private", external_network=f"{PREFIX}-external",
        router=f"{PREFIX}-router",
        boot=BootKit(image=f"{PREFIX}-cirros-0.6.3-x86_64-disk", flavor="m1.nano", keypair=f"{PREFIX}-key",
                     security_group=f"{PREFIX}-demo", login_user="cirros", ssh_wait_seconds=1),
        cinder=True, swift=True, cinder_backend="Packstack's loopback file",
        timeouts=Timeouts(server_active=0.01, floating_ip=0.01, volume=0.01, delete=0.01),
    )
    values.update(overrides)
    return Expectations(**values)


class NotFound(Exception):
    pass


# The fake's tables, name (or id) -> object: networks, subnets and routers by name, servers, floating IPs and
# volumes by id, containers by name -> {object: bytes}.
TABLES = ("networks", "subnets", "routers", "images", "flavors", "keypairs", "groups", "servers", "fips",
          "volumes", "containers")


@dataclass
class State:
    """What the fake cloud holds; tests edit it to break things. `s.networks` and the other TABLES are dicts."""

    catalog: list = field(default_factory=list)
    services: list = field(default_factory=list)
    hypervisors: list = field(default_factory=list)
    agents: list = field(default_factory=list)
    tables: dict[str, dict] = field(default_factory=lambda: {name: {} for name in TABLES})
    ports: list = field(default_factory=list)
    calls: list = field(default_factory=list)  # (kind, name) of every create and delete
    # Knobs: what a test breaks.
    boot_status: str = "ACTIVE"
    land_on: Optional[str] = None  # a host other than the pinned one
    pingable: bool = True
    ssh_ok: bool = True
    guest_sees_volumes: bool = True
    kernel_serials: bool = True  # False: a guest kernel without virtio-blk's serial attribute
    stale_disk: bool = False  # the guest keeps showing the volume after the detach
    corrupt_objects: bool = False
    interrupt_on: Optional[str] = None  # raise KeyboardInterrupt in this call
    fail_on: Optional[str] = None  # raise RuntimeError (with the password in its message) in this call

    def __getattr__(self, name: str) -> dict:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def hook(self, call: str) -> None:
        if self.interrupt_on == call:
            raise KeyboardInterrupt
        if self.fail_on == call:
            raise RuntimeError(f"{call} exploded; request body had password {PASSWORD}")


def healthy_state(computes: tuple[str, ...] = ("compute1", "compute2")) -> State:
    s = State()
    s.catalog = [{"type": t, "name": t, "endpoints": [{"url": "http://10.0.0.10"}]}
                 for t in ("identity", "compute", "network", "image", "placement", "volumev3", "object-store")]
    s.services = [obj(host=FQDN.format(c), state="up", status="enabled", availability_zone="nova",
                      updated_at="2026-12-03T04:00:00", disabled_reason=None) for c in computes]
    s.hypervisors = [obj(name=FQDN.format(c), state="up", service_details={"host": FQDN.format(c)}) for c in computes]
    s.agents = [obj(agent_type="OVN Controller Gateway agent" if n == "controller" else "OVN Controller agent",
                    host=FQDN.format(n), is_alive=True, last_heartbeat_at="now") for n in ("controller", *computes)]
    ext = obj(id=new_id("net"), name=f"{PREFIX}-external", subnet_ids=["sub-ext"], is_router_external=True)
    private = obj(id=new_id("net"), name=f"{PREFIX}-private", subnet_ids=["sub-priv"], is_router_external=False)
    s.networks.update({ext.name: ext, private.name: private})
    s.subnets.update({"sub-ext": obj(cidr="10.209.1.0/24"), "sub-priv": obj(cidr="192.168.100.0/24")})
    router = obj(id=new_id("router"), name=f"{PREFIX}-router", external_gateway_info={"network_id": ext.id})
    s.routers.update({router.name: router})
    s.ports.append(obj(id=new_id("port"), device_id=router.id, network_id=private.id, fixed_ips=[]))
    s.images.update({f"{PREFIX}-cirros-0.6.3-x86_64-disk": obj(id=new_id("image"), status="active")})
    s.flavors.update({"m1.nano": obj(id="42")})
    s.keypairs.update({f"{PREFIX}-key": obj(name=f"{PREFIX}-key")})
    s.groups.update({f"{PREFIX}-demo": obj(id=new_id("sg"))})
    return s


class Compute:
    def __init__(self, s: State) -> None:
        self.s = s

    def services(self, binary: str) -> list:
        self.s.hook("services")
        return list(self.s.services)

    def hypervisors(self, details: bool = False) -> list:
        return list(self.s.hypervisors)

    def find_flavor(self, name: str, ignore_missing: bool = True) -> Any:
        return self.s.flavors.get(name)

    def find_keypair(self, name: str, ignore_missing: bool = True) -> Any:
        return self.s.keypairs.get(name)

    def create_server(self, **kw: Any) -> Any:
        zone = kw.get("availability_zone")
        host = self.s.land_on or (zone.split(":", 1)[1] if zone else FQDN.format("compute1"))
        server = obj(id=new_id("server"), name=kw["name"], metadata=dict(kw["metadata"]), status="BUILD",
                     task_state="spawning", compute_host=host, fault=None, disks={})
        self.s.servers[server.id] = server
        self.s.calls.append(("create server", server.name))
        private = kw["networks"][0]["uuid"]
        self.s.ports.append(obj(id=new_id("port"), device_id=server.id, network_id=private,
                                fixed_ips=[{"ip_address": f"192.168.100.{len(self.s.servers) + 10}"}]))
        self.s.hook("create_server")  # after Nova took it: an interrupt here loses only the reply
        return obj(id=server.id, name=server.name, status="BUILD")

    def get_server(self, server_id: str) -> Any:
        self.s.hook("get_server")
        server = self.s.servers[server_id]
        server.status = self.s.boot_status
        if server.status == "ERROR":
            server.fault = {"message": "No valid host was found."}
        return server

    def servers(self, name: str = "") -> list:
        return [srv for srv in self.s.servers.values() if re.search(name, srv.name)]

    def delete_server(self, server: Any, ignore_missing: bool = True) -> None:
        self.s.hook("delete_server")
        gone = self.s.servers.pop(server.id, None)
        if gone is not None:
            self.s.calls.append(("delete server", gone.name))
            self.s.ports = [p for p in self.s.ports if p.device_id != gone.id]
            for volume in self.s.volumes.values():
                if volume.attached_to == gone.id:
                    volume.status, volume.attached_to = "available", None

    def create_volume_attachment(self, server: Any, volume: Any) -> None:
        volume = self.s.volumes[volume.id]
        volume.status, volume.attached_to = "in-use", server.id

    def delete_volume_attachment(self, server: Any, volume: Any) -> None:
        current = self.s.volumes[volume.id]
        current.status = "available"
        if not self.s.stale_disk:
            current.attached_to = None


class Network:
    def __init__(self, s: State) -> None:
        self.s = s

    def agents(self) -> list:
        return list(self.s.agents)

    def find_network(self, name: str, ignore_missing: bool = True) -> Any:
        return self.s.networks.get(name)

    def find_router(self, name: str, ignore_missing: bool = True) -> Any:
        return self.s.routers.get(name)

    def find_security_group(self, name: str, ignore_missing: bool = True) -> Any:
        return self.s.groups.get(name)

    def get_subnet(self, subnet_id: str) -> Any:
        return self.s.subnets[subnet_id]

    def ports(self, device_id: str, network_id: Optional[str] = None) -> list:
        return [p for p in self.s.ports if p.device_id == device_id and network_id in (None, p.network_id)]

    def create_ip(self, floating_network_id: str, port_id: str, description: str) -> Any:
        self.s.hook("create_ip")
        fip = obj(id=new_id("fip"), floating_ip_address=f"10.209.1.{130 + len(self.s.fips)}", port_id=port_id,
                  description=description)
        self.s.fips[fip.id] = fip
        self.s.calls.append(("create floating IP", description))
        return fip

    def ips(self, description: str = "") -> list:
        return [f for f in self.s.fips.values() if not description or f.description == description]

    def delete_ip(self, fip: Any, ignore_missing: bool = True) -> None:
        if self.s.fips.pop(fip.id, None) is not None:
            self.s.calls.append(("delete floating IP", fip.description))


class Image:
    def __init__(self, s: State) -> None:
        self.s = s

    def find_image(self, name: str, ignore_missing: bool = True) -> Any:
        return self.s.images.get(name)


class BlockStorage:
    def __init__(self, s: State) -> None:
        self.s = s

    def create_volume(self, name: str, size: int, metadata: dict) -> Any:
        self.s.hook("create_volume")
        volume = obj(id=new_id("volume"), name=name, size=size, metadata=dict(metadata), status="available",
                     attached_to=None)
        self.s.volumes[volume.id] = volume
        self.s.calls.append(("create volume", name))
        return obj(id=volume.id, name=name, status="creating")

    def get_volume(self, volume_id: str) -> Any:
        return self.s.volumes[volume_id]

    def find_volume(self, volume_id: str, ignore_missing: bool = True) -> Any:
        return self.s.volumes.get(volume_id)

    def volumes(self, name: str = "") -> list:
        return [v for v in self.s.volumes.values() if v.name == name]

    def delete_volume(self, volume: Any, ignore_missing: bool = True) -> None:
        current = self.s.volumes.get(volume.id)
        if current is not None:
            assert current.status not in ("in-use",), "Cinder refuses to delete a volume in use"
            del self.s.volumes[volume.id]
            self.s.calls.append(("delete volume", current.name))


class ObjectStore:
    def __init__(self, s: State) -> None:
        self.s = s

    def create_container(self, name: str) -> None:
        self.s.containers.setdefault(name, {})
        self.s.calls.append(("create container", name))

    def upload_object(self, container: str, name: str, data: bytes) -> None:
        self.s.containers[container][name] = data

    def download_object(self, name: str, container: str) -> bytes:
        data = self.s.containers[container][name]
        return data[::-1] if self.s.corrupt_objects else data

    def containers(self, prefix: str = "") -> list:
        return [obj(name=n) for n in self.s.containers if n.startswith(prefix)]

    def objects(self, container: str) -> list:
        return [obj(name=n) for n in self.s.containers[container]]

    def delete_object(self, item: Any, container: str, ignore_missing: bool = True) -> None:
        self.s.containers[container].pop(item.name, None)

    def delete_container(self, name: str, ignore_missing: bool = True) -> None:
        if name in self.s.containers:
            assert not self.s.containers[name], "Swift refuses to delete a container that holds objects"
            del self.s.containers[name]
            self.s.calls.append(("delete container", name))


class FakeConnection:
    def __init__(self, state: State) -> None:
        self.state = state
        self.compute, self.network, self.image = Compute(state), Network(state), Image(state)
        self.block_storage, self.object_store = BlockStorage(state), ObjectStore(state)
        self.current_user_id, self.current_project_id = "user-1", "project-1"
        self.closed = False
        self.token_error: Optional[Exception] = None

    def authorize(self) -> str:
        if self.token_error is not None:
            raise self.token_error
        return "gAAAAAtoken"

    @property
    def service_catalog(self) -> list:
        return self.state.catalog

    def close(self) -> None:
        self.closed = True


class FakeGuest:
    """ping and ssh as this host would see the fake cloud's servers."""

    key_note = "the stack's key"

    def __init__(self, state: State) -> None:
        self.s = state
        self.commands: list = []

    def _server(self, address: str) -> Any:
        for fip in self.s.fips.values():
            if fip.floating_ip_address == address:
                port = next(p for p in self.s.ports if p.id == fip.port_id)
                return self.s.servers.get(port.device_id)
        return None

    def ping(self, address: str) -> bool:
        server = self._server(address)
        return bool(self.s.pingable and server is not None and server.status == "ACTIVE")

    def ssh(self, address: str, user: str, command: str, stdin: str = "") -> Reply:
        self.s.hook("ssh")
        self.commands.append((address, user, command))
        server = self._server(address)
        if not self.s.ssh_ok or server is None or user != "cirros":
            return Reply(255, "cirros@x: Permission denied (publickey).")
        if command == "uname -n":
            return Reply(0, server.name + "\n")
        assert command == "sh -s" and "/sys/block/vd" in stdin, command
        lines = ["vda "]
        attached = [v for v in self.s.volumes.values() if v.attached_to == server.id]
        if self.s.guest_sees_volumes:
            lines += [f"vd{chr(ord('b') + i)} {v.id[:20] if self.s.kernel_serials else ''}"
                      for i, v in enumerate(attached)]
        return Reply(0, "\n".join(lines) + "\n")


# -- a run on the fake cloud -------------------------------------------------------------------------
def make_context(state: State, expect: Optional[Expectations] = None) -> Context:
    expect = expect or lab_expectations()
    conn = FakeConnection(state)
    return Context(conn, expect, Cleanup(conn, expect.names, expect.timeouts, pause=0.001), FakeGuest(state))


def run_all(ctx: Context) -> tuple[int, list[str], dict]:
    lines: list[str] = []
    code = verify(ctx, steps(ctx.expect), Printer(lines.append, [PASSWORD]))
    results = {}
    for line in lines:
        if line.startswith("[") and "]" in line and ": " in line:
            status = line[1:5].strip()
            name, _, detail = line[line.index(" s  ") + 4:].partition(": ")
            results[name] = (status, detail)
    return code, lines, results


def assert_nothing_left(state: State) -> None:
    assert not state.servers and not state.fips and not state.volumes and not state.containers, (
        state.servers, state.fips, state.volumes, state.containers)
