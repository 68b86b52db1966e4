"""A Debian package of any suite, downloaded and unpacked, never installed.

Each suite gets its own apt state under ``<cache>/apt/<suite>/``: its own sources (the host's Debian
mirror, ``<suite>`` and ``<suite>-updates``, main), package lists, archives and an empty dpkg status.
apt reads neither the host's sources nor its preferences nor its lists there, so a Debian 12 host
downloads Debian 13's packages without a trixie line in /etc/apt, and nothing of that state can reach
the host's dpkg: the only commands run against it are ``apt-get update``, ``apt-cache policy`` and
``apt-get download``. Release files are checked against the host's ``debian-archive-keyring`` as usual.
None of it needs root.

``unpacked(package, suite, dest)`` returns ``dest/<version>/root``, the package's files as
``dpkg-deb -x`` extracts them; a stamp marks a complete unpack, so a warm call runs no apt command at
all once the suite's candidate is remembered (per state of its lists). The lists are refreshed only
when they are missing or when the remembered version cannot be downloaded any more (a point release
replaced it), so the version under test changes only then.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openstack-lab"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
FALLBACK_MIRROR = "http://deb.debian.org/debian/"
LOCK_WAIT_S = 900  # another process's update + download of the same suite
APT_TIMEOUT_S = 600


class Unavailable(Exception):
    """The package cannot be fetched on this machine (the caller skips, or fails under CI=true)."""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=APT_TIMEOUT_S, **kw)


def host_codename() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "VERSION_CODENAME":
                return value.strip().strip('"')
    except OSError:
        pass
    return ""


def mirror() -> str:
    """The Debian archive the host's apt uses (the repository serving the host's own suite), so the
    other suites come from the same mirror and proxy; OSL_DEBIAN_MIRROR overrides it."""
    if os.environ.get("OSL_DEBIAN_MIRROR"):
        return os.environ["OSL_DEBIAN_MIRROR"].rstrip("/") + "/"
    codename = host_codename()
    if codename and shutil.which("apt-get"):
        out = _run(["apt-get", "indextargets", "--format", "$(RELEASE) $(REPO_URI)", "Identifier: Packages"]).stdout
        for line in out.splitlines():
            release, _, uri = line.partition(" ")
            if release == codename and uri.strip():
                return uri.strip().rstrip("/") + "/"
    return FALLBACK_MIRROR


class Suite:
    """apt's view of one Debian suite, private to this cache."""

    def __init__(self, suite: str, cache: Path = CACHE / "apt", mirror_url: str | None = None):
        self.suite = suite
        self.home = cache / suite
        self._mirror = mirror_url

    @property
    def mirror(self) -> str:
        if self._mirror is None:  # asked only when the lists are (re)fetched
            self._mirror = mirror()
        return self._mirror

    def layout(self, fresh_sources: bool = False) -> None:
        for sub in ("lists/partial", "archives/partial", "sources.list.d", "preferences.d"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        (self.home / "status").touch()
        if fresh_sources or not (self.home / "sources.list").exists():
            options = f"[signed-by={KEYRING}]"
            (self.home / "sources.list").write_text(
                "".join(f"deb {options} {self.mirror} {s} main\n" for s in (self.suite, f"{self.suite}-updates")))

    def apt_options(self) -> list[str]:
        home = self.home
        settings = {
            "Dir::Etc::SourceList": home / "sources.list",
            "Dir::Etc::SourceParts": home / "sources.list.d",
            "Dir::Etc::Preferences": home / "preferences",
            "Dir::Etc::PreferencesParts": home / "preferences.d",
            "Dir::State::Lists": home / "lists",
            "Dir::State::status": home / "status",
            "Dir::Cache": home,
            "Dir::Cache::archives": home / "archives",
            "Dir::Cache::pkgcache": "",
            "Dir::Cache::srcpkgcache": "",
            "Acquire::Languages": "none",
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled": "false",
            "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled": "false",
        }
        if os.geteuid() == 0:  # the cache lives under root's home, which apt's _apt user cannot enter
            settings["APT::Sandbox::User"] = "root"
        return [arg for key, value in settings.items() for arg in ("-o", f"{key}={value}")]

    def _lists_signature(self) -> str:
        stamps = [p.stat().st_mtime_ns for p in (self.home / "lists").glob("*_Packages*")]
        return f"{len(stamps)}:{max(stamps, default=0)}"

    def has_lists(self) -> bool:
        return any((self.home / "lists").glob(f"*_dists_{self.suite}_main_binary-*_Packages*"))

    def update(self) -> None:
        self.layout(fresh_sources=True)
        got = _run(["apt-get", *self.apt_options(), "-q", "update"])
        if got.returncode != 0 or not self.has_lists():
            raise Unavailable(f"apt-get update of {self.suite} from {self.mirror} failed: "
                              f"{(got.stdout + got.stderr).strip()[-600:]}")

    def candidate(self, package: str, fresh: bool = False) -> str | None:
        """apt's candidate version of `package`, remembered per state of the suite's lists."""
        memo = self.home / f"candidate-{package}"
        signature = self._lists_signature()
        try:
            remembered_signature, remembered = memo.read_text().split()
            if remembered_signature == signature and not fresh:
                return remembered
        except (OSError, ValueError):
            pass
        out = _run(["apt-cache", *self.apt_options(), "policy", package]).stdout
        version = None
        for line in out.splitlines():
            key, _, value = line.strip().partition(":")
            if key == "Candidate" and value.strip() not in ("", "(none)"):
                version = value.strip()
        if version is not None:
            memo.write_text(f"{signature} {version}\n")
        return version

    def download(self, package: str, version: str, into: Path) -> Path:
        got = _run(["apt-get", *self.apt_options(), "-q", "download", f"{package}={version}"], cwd=into)
        debs = sorted(into.glob(f"{package}_*.deb"))
        if got.returncode != 0 or not debs:
            raise Unavailable(
                f"apt-get download {package}={version} ({self.suite}) failed: {got.stderr.strip()[-400:]}")
        return debs[0]


def _locked(path: Path):
    """An exclusive lock on `path`, waited for at most LOCK_WAIT_S."""
    handle = path.open("a")
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise Unavailable(f"waited {LOCK_WAIT_S} s for {path} (another download of the same suite)") from None
            time.sleep(1)


def _unpack(suite: Suite, package: str, version: str, dest: Path) -> Path:
    home = dest / version.replace(":", "%3a")
    if (home / ".complete").exists():
        return home / "root"
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".download-") as tmp:
        deb = suite.download(package, version, Path(tmp))
        staged = Path(tmp) / "stage"
        staged.mkdir()
        unpacked = _run(["dpkg-deb", "-x", str(deb), str(staged / "root")])
        if unpacked.returncode != 0:
            raise Unavailable(f"dpkg-deb -x {deb.name} failed: {unpacked.stderr.strip()}")
        shutil.copy2(deb, staged / deb.name)
        (staged / ".complete").write_text(f"{version} {suite.suite}\n")
        try:
            staged.rename(home)
        except OSError:  # a concurrent run finished first; its copy is as good as ours
            if not (home / ".complete").exists():
                raise
    return home / "root"


def unpacked(package: str, suite_name: str, dest: Path) -> tuple[Path, str]:
    """(root of the unpacked package, its Debian version) for `package` as `suite_name` ships it."""
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if not shutil.which(tool):
            raise Unavailable(f"{tool} not found: {package} is fetched as a Debian package")
    if not KEYRING.exists():
        raise Unavailable(f"{KEYRING} not found (package debian-archive-keyring)")
    suite = Suite(suite_name)
    try:
        suite.home.mkdir(parents=True, exist_ok=True)
        lock = _locked(suite.home / ".lock")
    except OSError as e:
        raise Unavailable(f"cannot use {suite.home}: {e}") from e
    with lock:
        suite.layout()
        for attempt in range(2):
            # Second round after an update: a fresh cache has no lists, and stale lists name a
            # version the mirror no longer serves after a point release.
            if attempt or not suite.has_lists():
                suite.update()
            version = suite.candidate(package, fresh=bool(attempt))
            if version is None:
                if attempt:
                    raise Unavailable(f"{suite_name} has no package {package} (mirror {suite.mirror})")
                continue
            try:
                return _unpack(suite, package, version, dest), version
            except OSError as e:
                raise Unavailable(f"cannot unpack {package} under {dest}: {e}") from e
            except Unavailable:
                if attempt:
                    raise
    raise Unavailable(f"{package} from {suite_name}: no version could be downloaded")
