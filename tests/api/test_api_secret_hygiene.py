"""Secret hygiene, after every other test of the tier (marker tier_end, tests/conftest.py): no
admin/service/database password, no private key a stack generated and no Keystone token appears in anything the
tier's commands printed (pulumi, openstack CLI, fixture scripts), in the output pytest captured from the other
tests, or in the fixture's service logs."""
import configparser

import pytest

from apisupport import CAPTURED, FERNET_TOKEN_RE, LOG, SECRETS
from support.secret_scan import found_in

pytestmark = pytest.mark.tier_end


# service -> its config file in the fixture's state dir (each has a service user and a database password)
CONFIGS = {
    "keystone": "keystone/keystone.conf",
    "neutron": "neutron/neutron.conf",
    "glance": "glance/glance-api.conf",
    "nova": "nova/nova.conf",
    "placement": "placement/placement.conf",
}
DB_SECTIONS = {"placement": "placement_database"}


def _secrets(cloud) -> dict:
    found = {"admin password": cloud.admin_password}
    for service, rel in CONFIGS.items():
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(cloud.state / rel)
        if conf.has_section("keystone_authtoken"):
            found[f"{service} service password"] = conf["keystone_authtoken"]["password"]
        dsn = conf[DB_SECTIONS.get(service, "database")]["connection"]
        found[f"{service} database password"] = dsn.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert len(found) == 10, sorted(found)
    for name, value in SECRETS.items():  # what the tests got hold of (a stack's generated private key)
        found[name] = value
    return found


def _scan(text: str, secrets: dict) -> list[str]:
    problems = [f"{name} appears" for name in found_in(text, secrets)]
    tokens = FERNET_TOKEN_RE.findall(text)
    if tokens:
        problems.append(f"{len(tokens)} Keystone token(s) appear")
    return problems


def test_no_secret_in_command_output(fixture_cloud):
    text = LOG.text()
    assert "pulumi" in text or "openstack" in text, "nothing was logged: did the tier run?"
    problems = _scan(text, _secrets(fixture_cloud))
    assert not problems, "in the output of the tier's commands: " + "; ".join(problems)


def test_no_secret_in_captured_test_output(fixture_cloud):
    problems = _scan("\n".join(CAPTURED), _secrets(fixture_cloud))
    assert not problems, "in pytest's captured output: " + "; ".join(problems)


def test_no_secret_in_service_logs(fixture_cloud):
    logs = sorted((fixture_cloud.state / "log").glob("*"))
    assert logs
    text = "\n".join(p.read_text(errors="replace") for p in logs if p.is_file())
    problems = _scan(text, _secrets(fixture_cloud))
    assert not problems, "in the fixture's service logs: " + "; ".join(problems)
