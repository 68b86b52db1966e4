"""Shared by every tier: the repository root on sys.path, CI's no-skip rule, and the `tier_end` marker (the
harness: tests/support/)."""
import sys

import pytest

from support import IN_CI, ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    config.addinivalue_line("markers", "tier_end: runs after every other test of its tier (tests/<tier>/), as a "
                                       "check of what they left (a secret in their output, a change to the machine)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Tests marked tier_end go after the other tests of their own tier; the tiers keep their order, and so do
    the tests within each group. Not by file name: the marker says it."""
    tiers: dict[str, int] = {}

    def tier(item) -> str:
        path = item.path.resolve()
        return path.relative_to(ROOT).parts[1] if path.is_relative_to(ROOT / "tests") else str(path.parent)

    for item in items:
        tiers.setdefault(tier(item), len(tiers))
    items.sort(key=lambda item: (tiers[tier(item)], item.get_closest_marker("tier_end") is not None))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Under CI=true any skip is reported as a failure of the run."""
    skipped = terminalreporter.stats.get("skipped", [])
    if IN_CI and skipped:
        terminalreporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; skips are failures in CI", red=True)


def pytest_sessionfinish(session, exitstatus):
    if IN_CI and session.testsfailed == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and reporter.stats.get("skipped"):
            session.exitstatus = 1
