"""The package tier's harness: a network namespace of the test's own (the "mirror host" and the "lab host" as
two addresses on a dummy interface in it, a resolver on 127.0.0.1), the signed test mirror (build-repo.sh) served
over HTTP in it, squid started from the caching-proxy recipe's own configuration (lab/caching_proxy.py) with the
test's paths, and the real dnf run against a scratch root the lab's renderer wrote.

Every process runs inside the namespace (`ip netns exec`, then in-netns.sh binds a resolv.conf naming 127.0.0.1 in
a private mount namespace): nothing the tier starts can reach any address outside it. Every wait is bounded and
says what it waited for.
"""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from lab.caching_proxy import BasicAuth, SquidSettings, squid_config
from lab.config import parse
from lab.package_sources import DNF_CONF, PackageSourcesPlan, dnf_main, el9_files, el9_input
from lab.plan import plan
from support import ROOT
from support.command_log import CommandLog

HERE = Path(__file__).resolve().parent
IN_NETNS = HERE / "in-netns.sh"
# TEST-NET-1 (RFC 5737), only ever inside the test's namespace: the mirror host and the lab host (squid).
LAN = "192.0.2.0/24"
MIRROR_ADDRESS = "192.0.2.10"
PROXY_ADDRESS = "192.0.2.1"
OUTSIDER_ADDRESS = "198.51.100.7"  # TEST-NET-2, also only in the namespace: a client outside the lab's networks
MIRROR_PORT = 8080
PROXY_PORT = 3128
AUTH_PROXY_PORT = 3129  # the recipe's squid asking for a login, beside the open one
MIRROR_URL = f"http://{MIRROR_ADDRESS}:{MIRROR_PORT}"
PROXY_URL = f"http://{PROXY_ADDRESS}:{PROXY_PORT}"
KEYS_URL = f"{MIRROR_URL}/keys/"  # packageSources.gpgKeys as a URL
START_TIMEOUT = 30  # seconds for the mirror or squid to listen
STOP_TIMEOUT = 10
DNF_TIMEOUT = 180
NCSA_HELPER = "/usr/lib/squid/basic_ncsa_auth"  # Debian's path (EL: /usr/lib64/squid/)
_counter = itertools.count(1)


class Namespace:
    """`ip netns add osl-pkg-<pid>-<n>`: its loopback up, holding the mirror's and the lab host's addresses too.
    Every command runs with `etc_layer` (resolv.conf naming 127.0.0.1, the node's pki/rpm-gpg keys) laid over
    /etc, read-only, in a private mount namespace (in-netns.sh)."""

    def __init__(self, etc_layer: Path) -> None:
        self.name = f"osl-pkg-{os.getpid()}-{next(_counter)}"
        self.etc_layer = etc_layer
        (etc_layer / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=30)
        try:
            for argv in (["link", "set", "lo", "up"], ["addr", "add", f"{PROXY_ADDRESS}/32", "dev", "lo"],
                         ["addr", "add", f"{MIRROR_ADDRESS}/32", "dev", "lo"],
                         ["addr", "add", f"{OUTSIDER_ADDRESS}/32", "dev", "lo"]):
                subprocess.run(["ip", "-n", self.name, *argv], check=True, timeout=30)
        except BaseException:
            self.close()
            raise

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, "unshare", "--mount", "--propagation", "private",
                "bash", str(IN_NETNS), str(self.etc_layer), *argv]

    def run(self, argv: Sequence[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(argv), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kwargs)

    def popen(self, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(self.argv(argv), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def close(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, timeout=30)


def stop(proc: subprocess.Popen[bytes], what: str, how: signal.Signals = signal.SIGTERM) -> None:
    """`how` to the process group (ip netns exec execs down to the daemon: one group), KILL after STOP_TIMEOUT."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, how)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)
        raise AssertionError(f"{what} did not stop within {STOP_TIMEOUT} s of {how.name} (killed)") from None


def wait_for_text(path: Path, text: str, proc: subprocess.Popen[bytes], what: str,
                  timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited {proc.returncode} before {text!r} appeared in {path}:\n"
                                 + (path.read_text(errors="replace")[-3000:] if path.exists() else ""))
        time.sleep(0.1)
    raise AssertionError(f"{what}: {text!r} did not appear in {path} within {timeout} s")


def build_mirror(out: Path) -> Path:
    """build-repo.sh into `out` (fresh): served/ (the repositories, keys/) and etc/ (the node's key files)."""
    proc = subprocess.run(["bash", str(HERE / "build-repo.sh"), str(out)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError(f"build-repo.sh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return out


class Mirror:
    """The test mirror: Python's http.server on MIRROR_ADDRESS:MIRROR_PORT in the namespace, serving `tree`/served;
    its request log (one line per GET) in `log`."""

    def __init__(self, ns: Namespace, tree: Path, log: Path) -> None:
        self.log = log
        self.proc = ns.popen(["python3", "-u", "-m", "http.server", "--bind", MIRROR_ADDRESS, "--directory",
                              str(tree / "served"), str(MIRROR_PORT)], log)
        wait_for_text(log, "Serving HTTP on", self.proc, "the test mirror (http.server)")

    def requests(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if '"GET ' in line]

    def close(self) -> None:
        stop(self.proc, "the test mirror")


def proxy_dir(base: Path, name: str) -> Path:
    """A directory squid (which drops to Debian's `proxy` user) can use: its path traversable, itself proxy's."""
    path = base / name
    path.mkdir(parents=True)
    shutil.chown(path, "proxy", "proxy")
    return path


@dataclass
class SquidLogin:
    user: str
    password: str


class Squid:
    """squid from the recipe's configuration (lab/caching_proxy.squid_config), only the paths, the port and the
    test namespace's resolver changed; `-z` makes its cache dirs, then it runs in the foreground (-N)."""

    def __init__(self, ns: Namespace, base: Path, login: Optional[SquidLogin] = None, port: int = PROXY_PORT) -> None:
        base.mkdir(parents=True)
        base.chmod(0o755)
        self.base = base
        self.logs = proxy_dir(base, "log")
        auth = None
        if login is not None:
            passwords = base / "passwords"
            passwords.write_text(f"{login.user}:{htpasswd_hash(login.password)}\n")
            passwords.chmod(0o600)
            shutil.chown(passwords, "proxy", "proxy")
            auth = BasicAuth(NCSA_HELPER, str(passwords))
        self.port = port
        self.settings = replace(recipe_settings(), port=port, cache_dir=str(proxy_dir(base, "cache")),
                                cache_mib=256, log_dir=str(self.logs), pid_file=str(self.logs / "squid.pid"),
                                auth=auth, dns_nameservers=("127.0.0.1",))
        self.config = base / "squid.conf"
        self.config.write_text(squid_config(self.settings))
        self.config.chmod(0o644)
        parse = ns.run(["squid", "-k", "parse", "-f", str(self.config)], timeout=60)
        if parse.returncode != 0:
            raise AssertionError(f"squid -k parse refused the recipe's config:\n{parse.stdout}\n{parse.stderr}")
        made = ns.run(["squid", "-z", "-N", "-f", str(self.config)], timeout=60)
        if made.returncode != 0:
            raise AssertionError(f"squid -z failed:\n{made.stdout}\n{made.stderr}")
        self.proc = ns.popen(["squid", "-N", "-f", str(self.config)], base / "squid.out")
        wait_for_text(self.logs / "cache.log", "Accepting HTTP Socket connections", self.proc, "squid")

    @property
    def url(self) -> str:
        return f"http://{PROXY_ADDRESS}:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.logs / "access.log"

    def entries(self) -> list[tuple[str, str]]:
        """(result code, URL) of every request in squid's access log (its `squid` format)."""
        found = []
        if self.access_log.exists():
            for line in self.access_log.read_text(errors="replace").splitlines():
                fields = line.split()
                if len(fields) >= 7:
                    found.append((fields[3], fields[6]))
        return found

    def close(self) -> None:
        # SIGINT: squid's immediate shutdown (SIGTERM waits shutdown_lifetime, 30 s, for clients).
        stop(self.proc, "squid", signal.SIGINT)


def recipe_settings() -> SquidSettings:
    """The recipe's settings as `make caching-proxy` makes them (tools/caching_proxy.py), for the test's LAN."""
    from tools.caching_proxy import settings_for

    return settings_for((LAN,))


def htpasswd_hash(password: str) -> str:
    """A SHA-512 crypt hash (squid's NCSA helper checks it with crypt(3)): the password through stdin, never argv."""
    proc = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
                          check=True, timeout=30)
    return proc.stdout.strip()


def write_root(root: Path, files: Mapping[str, tuple[str, int]]) -> None:
    """The rendered node files (path on the node -> content, mode) under a scratch root."""
    for path, (content, mode) in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(mode)


def dnf_argv(root: Path, *args: str) -> list[str]:
    """The real dnf against the scratch root: its config, its repo dir, EL9's release version; nothing else."""
    return ["dnf", "-y", f"--installroot={root}", f"--setopt=reposdir={root}/etc/yum.repos.d",
            "--config", f"{root}/etc/dnf/dnf.conf", "--releasever=9", "--setopt=varsdir=" + f"{root}/etc/dnf/vars",
            *args]


class CmdlineWatch:
    """While dnf runs: every process's /proc/<pid>/cmdline read every 20 ms; `seen` collects any that holds
    one of `values` (for the secret scan, never printed)."""

    def __init__(self, values: Sequence[str]) -> None:
        self.values = [v for v in values if v]
        self.seen: list[int] = []
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CmdlineWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if any(v in cmdline for v in self.values):
                    self.seen.append(int(entry.name))
            self.scans += 1
            self._stop.wait(0.02)


# CentOS Stream 9's /etc/dnf/dnf.conf as the dnf package ships it (dnf-data): the file the lab's [main] keys go into.
STOCK_DNF_CONF = ("[main]\ngpgcheck=1\ninstallonly_limit=3\nclean_requirements_on_remove=True\nbest=True\n"
                  "skip_if_unavailable=False\n")
RDO_DEPS = ("rabbitmq", "openvswitch", "ceph")
MIRRORS = {name: f"{MIRROR_URL}/{name}/" for name in ("baseos", "appstream", "crb", "extras", "rdo")}


def sources(**fields: object) -> dict[str, object]:
    """packageSources as a stack file holds it: every mirror on the test mirror, plus `fields`."""
    return {"mirrors": {**MIRRORS, "rdoDeps": {name: f"{MIRROR_URL}/{name}/" for name in RDO_DEPS}}, **fields}


def sources_plan(package_sources: Mapping[str, object], password: Optional[str] = None) -> PackageSourcesPlan:
    """The lab's own path: the stack config parsed and validated (lab.config.parse), then the plan's
    prep.package_sources, as host prep gets it."""
    raw: dict[str, object] = {"packageSources": dict(package_sources)}
    secret_keys: frozenset[str] = frozenset()
    if password is not None:
        raw["packageProxyPassword"] = password
        secret_keys = frozenset({"packageProxyPassword"})
    found = plan(parse(raw, "openstack-lab", "pkgtier", secret_keys)).prep.package_sources
    assert found is not None, "packageSources set, but the plan has no package sources"
    return found


def render_el9(root: Path, sources: PackageSourcesPlan, log: CommandLog) -> dict[str, int]:
    """What host prep does on a node, under `root`: the image's stock dnf.conf, then the real
    scripts/package-sources.sh (LAB_ROOT=root) with the renderer's input on stdin, as HostPrep runs it
    (`el9_input`: the lab's repo file, dnf's [main] keys). Returns path -> mode of the files the renderer names."""
    write_root(root, {DNF_CONF: (STOCK_DNF_CONF, 0o644)})
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "package-sources.sh")], input=el9_input(sources),
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "LAB_ROOT": str(root)})
    log.add(f"package-sources.sh under {root.name} (exit {proc.returncode})", proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"package-sources.sh failed: {proc.stderr[-2000:]}"
    paths = [*el9_files(sources), dnf_main(sources).path]
    return {path: stat.S_IMODE((root / path.lstrip("/")).stat().st_mode) for path in paths}


def run_dnf(ns: Namespace, root: Path, log: CommandLog, *args: str) -> subprocess.CompletedProcess[str]:
    proc = ns.run(dnf_argv(root, *args), timeout=DNF_TIMEOUT)
    log.add(f"dnf {' '.join(args)} in {root.name} (exit {proc.returncode})", proc.stdout + proc.stderr)
    return proc


def proxy_get(ns: Namespace, url: str, proxy: str, source: str) -> int:
    """The HTTP status of one GET of `url` through `proxy` (host:port) from `source`, inside the namespace."""
    proc = ns.run(["python3", str(HERE / "proxy_get.py"), url, proxy, source], timeout=60)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip())


def installed(ns: Namespace, root: Path, name: str) -> bool:
    return ns.run(["rpm", "--root", str(root), "-q", name], timeout=60).returncode == 0
