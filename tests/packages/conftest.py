"""Package tier fixtures (README.md): once per session the prerequisites, the signed test mirror, the tier's
network namespace with the mirror served in it, and two squids from the caching-proxy recipe (open, and asking
for a login); every process stopped and the namespace deleted at the end."""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from packagessupport import AUTH_PROXY_PORT, Mirror, Namespace, Squid, SquidLogin, build_mirror
from support import require
from support.command_log import CommandLog
from support.packages import ensure

PACKAGES = ("dnf", "rpm", "createrepo-c", "squid", "openssl", "gnupg", "iproute2", "util-linux")
COMMANDS = ("dnf", "rpm", "rpmbuild", "rpmsign", "createrepo_c", "squid", "openssl", "gpg", "ip", "unshare",
            "findmnt")


@pytest.fixture(scope="session")
def tier_ready() -> None:
    require(os.geteuid() == 0, "the package tier needs root (ip netns, squid's own user)")
    ensure(PACKAGES, COMMANDS)


@pytest.fixture(scope="session")
def base(tier_ready: None) -> Iterator[Path]:
    """The session's directory: traversable by squid's `proxy` user (pytest's own temp dirs are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="osl-packages-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def command_log(base: Path) -> CommandLog:
    return CommandLog(base / "commands.log")


@pytest.fixture(scope="session")
def mirror_tree(base: Path) -> Path:
    return build_mirror(base / "mirror")


@pytest.fixture(scope="session")
def ns(mirror_tree: Path) -> Iterator[Namespace]:
    namespace = Namespace(mirror_tree / "etc")
    yield namespace
    namespace.close()


@pytest.fixture(scope="session")
def mirror(ns: Namespace, mirror_tree: Path, base: Path) -> Iterator[Mirror]:
    server = Mirror(ns, mirror_tree, base / "mirror.log")
    yield server
    server.close()


@pytest.fixture(scope="session")
def squid(ns: Namespace, mirror: Mirror, base: Path) -> Iterator[Squid]:
    proxy = Squid(ns, base / "squid")
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def proxy_login() -> SquidLogin:
    """The login of the squid that asks for one: a fresh password per session (the secret of the scans)."""
    return SquidLogin("labproxy", secrets.token_urlsafe(18))


@pytest.fixture(scope="session")
def squid_with_login(ns: Namespace, mirror: Mirror, base: Path, proxy_login: SquidLogin) -> Iterator[Squid]:
    proxy = Squid(ns, base / "squid-login", login=proxy_login, port=AUTH_PROXY_PORT)
    yield proxy
    proxy.close()


@pytest.fixture
def scratch_root(base: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh installroot per test (named after it, under the session's directory)."""
    root = base / "roots" / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    root.mkdir(parents=True)
    return root
