"""Shared by every tier: the repository root on sys.path, and CI's no-skip rule (the harness: tests/support/)."""
import sys

from support import IN_CI, ROOT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
