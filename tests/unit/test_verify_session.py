"""A whole `make verify` run on the fake cloud (verify_fake.py): the clean-up after an interrupt (Ctrl-C in
the middle of a check, a create whose reply was lost, SIGTERM through the CLI's handler), an earlier run's
leftovers removed at the start while a neighbour stack's look-alikes stay, a second run finding nothing,
the clean-up's own failure, the runner's dependants and errors, bounded waits, and secret hygiene (the
clouds.yaml password and the demo key never appear in the output, argv or a readable file)."""
from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
import yaml

from tools.verify import cli
from tools.verify.expectations import MARKER
from tools.verify.runner import CheckFailed, Printer, Runner, Step
from tools.verify.waits import NotYet, wait_for
from verify_fake import (PASSWORD, PREFIX, FakeConnection, FakeGuest, assert_nothing_left, healthy_state,
                         lab_expectations, make_context, new_id, obj, run_all)

PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAfakefakefake\n" \
              "-----END OPENSSH PRIVATE KEY-----\n"


@pytest.mark.parametrize("call, during", [
    ("create_ip", "floating IP compute1"),
    ("get_server", "server compute1"),
    ("create_volume", "volume create"),
    ("ssh", "ssh compute1"),
])
def test_ctrl_c_mid_run_cleans_up_and_exits_130(call, during):
    state = healthy_state()
    state.interrupt_on = call
    code, lines, results = run_all(make_context(state))
    assert code == 130
    assert f"[stop] interrupted during {during}; cleaning up" in lines
    assert results["clean-up"][0] == "ok", "\n".join(lines)
    assert lines[-1].startswith("verify interrupted: ")
    assert_nothing_left(state)


def test_a_server_whose_create_reply_was_lost_is_still_removed():
    """Ctrl-C after Nova took the second create but before its reply: the registry never saw it; the marker
    sweep finds it."""
    state = healthy_state()
    ctx = make_context(state)
    original, count = ctx.conn.compute.create_server, []

    def second_interrupted(**kw):
        count.append(1)
        state.interrupt_on = "create_server" if len(count) == 2 else None
        return original(**kw)

    ctx.conn.compute.create_server = second_interrupted
    code, lines, results = run_all(ctx)
    assert code == 130
    assert len(ctx.cleanup.created.servers) == 0  # swept: the registry is empty again
    assert results["clean-up"][1].startswith("removed 2 server(s)"), "\n".join(lines)
    assert_nothing_left(state)


def _leftovers(state):
    """An earlier interrupted run's objects, and a neighbour stack `alice-verify-x`'s look-alikes."""
    neighbour = f"{PREFIX}-verify-x"  # that stack's prefix starts with our stem `<prefix>-verify-`
    mine = obj(id=new_id("server"), name=f"{PREFIX}-verify-compute1", metadata={MARKER: PREFIX}, status="ACTIVE",
               compute_host="compute1", fault=None)
    theirs = obj(id=new_id("server"), name=f"{neighbour}-demo", metadata={}, status="ACTIVE", compute_host="c",
                 fault=None)
    theirs_verify = obj(id=new_id("server"), name=f"{neighbour}-verify-compute1", metadata={MARKER: neighbour},
                        status="ACTIVE", compute_host="c", fault=None)
    for server in (mine, theirs, theirs_verify):
        state.servers[server.id] = server
    for description in (f"{PREFIX}-verify-fip", f"{neighbour}-verify-fip"):
        fip = obj(id=new_id("fip"), floating_ip_address="10.209.1.200", port_id=None, description=description)
        state.fips[fip.id] = fip
    volume = obj(id=new_id("volume"), name=f"{PREFIX}-verify-volume", metadata={MARKER: PREFIX}, status="in-use",
                 attached_to=mine.id)
    other_volume = obj(id=new_id("volume"), name=f"{neighbour}-verify-volume", metadata={MARKER: neighbour},
                       status="available", attached_to=None)
    state.volumes = {volume.id: volume, other_volume.id: other_volume}
    state.containers = {f"{PREFIX}-verify-objects": {"probe": b"x"}, f"{neighbour}-verify-objects": {"probe": b"y"}}
    return {theirs.id, theirs_verify.id}, other_volume.id


def test_an_earlier_runs_leftovers_go_first_and_neighbours_stay():
    state = healthy_state()
    neighbour_servers, neighbour_volume = _leftovers(state)
    code, lines, results = run_all(make_context(state))
    assert code == 0, "\n".join(lines)
    assert results["leftovers"] == ("ok", "removed an earlier run's 1 server(s), 1 floating IP(s), 1 volume(s), "
                                          "1 container(s)")
    assert set(state.servers) == neighbour_servers
    assert [f.description for f in state.fips.values()] == [f"{PREFIX}-verify-x-verify-fip"]
    assert list(state.volumes) == [neighbour_volume]
    assert list(state.containers) == [f"{PREFIX}-verify-x-verify-objects"]
    # A second run finds nothing left from the first.
    code, lines, results = run_all(make_context(state))
    assert results["leftovers"] == ("ok", f"none from an earlier run ({PREFIX}-verify-*)")
    assert code == 0


def test_a_failing_clean_up_fails_the_run_and_shows_no_secret():
    state = healthy_state()
    state.fail_on = "delete_server"
    code, lines, results = run_all(make_context(state))
    assert code == 1
    status, detail = results["clean-up"]
    assert status == "FAIL" and "delete_server exploded" in detail and "***" in detail
    assert all(PASSWORD not in line for line in lines)


def test_a_check_error_carrying_the_password_is_redacted():
    state = healthy_state()
    state.fail_on = "services"
    code, lines, results = run_all(make_context(state))
    assert results["compute services"] == ("FAIL", "RuntimeError: services exploded; request body had password ***")
    assert all(PASSWORD not in line for line in lines)
    assert code == 1


def test_runner_skips_dependants_and_reports_unexpected_errors():
    lines = []
    clock = iter([0.0, 1.25, 2.0, 2.0, 3.0, 3.5]).__next__

    def fails(ctx):
        raise CheckFailed("broken")

    def crashes(ctx):
        raise OSError(2, "No such file or directory")

    runner = Runner(Printer(lines.append), clock=clock)
    runner.run([Step("a", fails), Step("b", lambda ctx: "fine", ("a",)), Step("c", crashes),
                Step("d", lambda ctx: "ran")], None)
    assert lines == ["[FAIL]    1.2 s  a: broken",
                     "[skip]    0.0 s  b: not run: needs a",
                     "[FAIL]    0.0 s  c: FileNotFoundError: [Errno 2] No such file or directory",
                     "[ok  ]    0.5 s  d: ran"]
    assert [r.name for r in runner.failed] == ["a", "c"]


def test_wait_for_is_bounded_and_names_what_it_waited_for():
    now = [0.0]

    def attempt():
        raise NotYet("status BUILD")

    def sleep(seconds):
        now[0] += seconds

    with pytest.raises(CheckFailed) as err:
        wait_for("server x to become ACTIVE", attempt, timeout=10, pause=3, clock=lambda: now[0], sleep=sleep)
    assert str(err.value) == "gave up waiting for server x to become ACTIVE after 10 s (4 tries; last: status BUILD)"
    assert wait_for("y", lambda: 7, timeout=1) == 7


# -- the CLI's handling of the stack's secrets -------------------------------------------------------
class FakeReader:
    """A stack read without Pulumi: the facts the CLI works from, the secrets among them."""

    def __init__(self, facts):
        self.facts = facts

    def read(self, key_needed=True):
        return self.facts


def facts(private_key=PRIVATE_KEY):
    clouds = yaml.safe_dump({"clouds": {PREFIX: {"auth": {"auth_url": "http://10.209.0.10:5000/v3",
                                                          "username": "admin", "password": PASSWORD,
                                                          "project_name": "admin", "user_domain_name": "Default",
                                                          "project_domain_name": "Default"},
                                                 "region_name": "RegionOne", "identity_api_version": 3}}})
    return obj(clouds_yaml=clouds, private_key=private_key, secrets=(private_key,),
               plan=obj(networking=obj(names=obj(cloud=PREFIX))))


def test_cli_run_keeps_secrets_out_of_output_and_files(monkeypatch, capfd):
    state = healthy_state()
    state.fail_on = "services"  # an error message that carries the password
    seen = {}

    def connector(login):
        seen["login"] = login
        return FakeConnection(state)

    def guest_factory(key_file, known_hosts):
        seen["key"] = (key_file, stat.S_IMODE(key_file.stat().st_mode), key_file.read_text(),
                       stat.S_IMODE(key_file.parent.stat().st_mode), known_hosts.parent == key_file.parent)
        return FakeGuest(state)

    monkeypatch.setattr(cli, "expectations", lambda f: lab_expectations())
    lines = []
    code = cli.run("alice", FakeReader(facts()), lines.append, connector=connector, guest_factory=guest_factory)
    out, err = capfd.readouterr()
    text = "\n".join(lines) + out + err
    assert code == 1
    assert PASSWORD not in text and "b3BlbnNzaC1rZXkt" not in text
    assert "password ***" in text
    assert seen["login"].password == PASSWORD and "password" not in repr(seen["login"])
    key_file, mode, content, dir_mode, same_dir = seen["key"]
    assert (mode, dir_mode, content, same_dir) == (0o600, 0o700, PRIVATE_KEY, True)
    assert not key_file.exists() and not key_file.parent.exists(), "the run's key file outlived it"
    assert_nothing_left(state)


def test_cli_sigterm_is_an_interrupt_with_clean_up(monkeypatch):
    state = healthy_state()
    ctx_conn = FakeConnection(state)
    original = ctx_conn.network.create_ip

    def terminated(**kw):
        fip = original(**kw)
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises KeyboardInterrupt here
        return fip

    ctx_conn.network.create_ip = terminated
    monkeypatch.setattr(cli, "expectations", lambda f: lab_expectations())
    lines = []
    code = cli.run("alice", FakeReader(facts(None)), lines.append, connector=lambda login: ctx_conn,
                   guest_factory=lambda key, known: FakeGuest(state))
    assert code == 130, "\n".join(lines)
    assert "[stop] interrupted during floating IP compute1; cleaning up" in lines
    assert signal.getsignal(signal.SIGTERM) is not cli._interrupt, "the SIGTERM handler outlived the run"
    assert ctx_conn.closed
    assert_nothing_left(state)


def test_cli_unreadable_clouds_yaml_names_the_problem_not_the_text():
    lines = []
    bad = facts()
    bad.clouds_yaml = f"clouds: [{PASSWORD}"
    code = cli.run("alice", FakeReader(bad), lines.append, connector=lambda login: pytest.fail("connected"))
    assert code == 2 and lines == ["verify: cloudsYaml is not valid YAML"]


def test_key_file_is_the_given_one_or_the_stacks_own(tmp_path: Path):
    assert cli.key_file(tmp_path, PRIVATE_KEY, "/home/u/.ssh/lab") == Path("/home/u/.ssh/lab")
    assert cli.key_file(tmp_path, None, None) is None
    written = cli.key_file(tmp_path, PRIVATE_KEY.rstrip("\n"), None)
    assert written is not None and stat.S_IMODE(written.stat().st_mode) == 0o600
    assert written.read_text() == PRIVATE_KEY
