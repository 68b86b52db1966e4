"""scripts/: shellcheck clean, and run for real against temp dirs with fake tools on PATH."""
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from labtest import require

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run(name, tmp_path, env=None, stdin="", fakes=None):
    """Run scripts/<name> with bash; `fakes` maps tool name -> shell body put first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool, body in (fakes or {}).items():
        path = bin_dir / tool
        path.write_text("#!/usr/bin/env bash\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    full_env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), **(env or {})}
    return subprocess.run(["bash", str(SCRIPTS / name)], input=stdin, capture_output=True, text=True,
                          env=full_env, timeout=60)


def test_every_script_passes_shellcheck():
    require(shutil.which("shellcheck") is not None, "shellcheck is not installed (make deps installs it)")
    scripts = sorted(str(p) for p in SCRIPTS.glob("*.sh"))
    assert len(scripts) >= 9
    result = subprocess.run(["shellcheck", "-x", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_script_is_strict_bash():
    for script in SCRIPTS.glob("*.sh"):
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), script.name
        assert "set -euo pipefail" in text, script.name


FAKE_PACKSTACK = r'''
case "$1" in
  --gen-answer-file=*)
    echo "generated" >> "$PACKSTACK_CALLS"
    printf '[general]\n# comment\nCONFIG_CONTROLLER_HOST=127.0.0.1\nCONFIG_COMPUTE_HOSTS=127.0.0.1\nCONFIG_KEYSTONE_ADMIN_PW=random1\nCONFIG_PROVISION_DEMO=y\n' > "${1#--gen-answer-file=}";;
  --version) echo "packstack 26.0.0";;
esac
'''


def answers_env(tmp_path):
    return {"LAB_ANSWER_DIR": str(tmp_path / "answers"), "PACKSTACK_CALLS": str(tmp_path / "calls")}


def test_answer_edits_land_in_the_generated_file(tmp_path):
    edits = "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12\nCONFIG_KEYSTONE_ADMIN_PW=s3cret\nCONFIG_PROVISION_DEMO=n\n"
    result = run("packstack-answers.sh", tmp_path, answers_env(tmp_path), edits, {"packstack": FAKE_PACKSTACK})
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "answers" / "answers.txt").read_text()
    assert "CONFIG_COMPUTE_HOSTS=10.0.0.11,10.0.0.12\n" in text
    assert "CONFIG_KEYSTONE_ADMIN_PW=s3cret\n" in text and "random1" not in text
    assert "CONFIG_PROVISION_DEMO=n\n" in text
    assert "[general]\n# comment\n" in text  # untouched lines kept
    assert "s3cret" not in result.stdout + result.stderr
    assert stat.S_IMODE((tmp_path / "answers" / "answers.txt").stat().st_mode) == 0o600
    assert list((tmp_path / "answers").glob("edits.*")) == []  # the secret edits do not linger


def test_answer_file_is_generated_once_and_second_run_changes_nothing(tmp_path):
    edits = "CONFIG_PROVISION_DEMO=n\n"
    fakes = {"packstack": FAKE_PACKSTACK}
    first = run("packstack-answers.sh", tmp_path, answers_env(tmp_path), edits, fakes)
    before = (tmp_path / "answers" / "answers.txt").stat().st_mtime_ns
    second = run("packstack-answers.sh", tmp_path, answers_env(tmp_path), edits, fakes)
    assert first.returncode == second.returncode == 0
    assert "unchanged" in second.stdout
    assert (tmp_path / "answers" / "answers.txt").stat().st_mtime_ns == before
    assert (tmp_path / "calls").read_text().count("generated") == 1


def test_unknown_answer_key_fails_loudly(tmp_path):
    result = run("packstack-answers.sh", tmp_path, answers_env(tmp_path), "CONFIG_TYPO=1\n", {"packstack": FAKE_PACKSTACK})
    assert result.returncode != 0
    assert "unknown answer key: CONFIG_TYPO" in result.stderr


def test_packstack_failure_surfaces_the_log_tail(tmp_path):
    runs = tmp_path / "runs"
    (runs / "latest").mkdir(parents=True)
    (runs / "latest" / "openstack-setup.log").write_text("".join(f"line {i}\n" for i in range(100)) + "ERROR: puppet failed\n")
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "answers.txt").write_text("CONFIG_X=1\n")
    env = {"LAB_ANSWER_DIR": str(tmp_path / "answers"), "LAB_PACKSTACK_RUNS": str(runs)}
    result = run("packstack-apply.sh", tmp_path, env, fakes={"packstack": "echo applying; exit 3"})
    assert result.returncode == 3
    assert "ERROR: puppet failed" in result.stderr and "line 99" in result.stderr
    assert "line 10\n" not in result.stderr  # only the tail
    assert "applying" in result.stdout  # progress is streamed


def test_packstack_apply_uses_the_lab_answer_file(tmp_path):
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "answers.txt").write_text("CONFIG_X=1\n")
    result = run("packstack-apply.sh", tmp_path, {"LAB_ANSWER_DIR": str(tmp_path / "answers")},
                 fakes={"packstack": 'echo "args: $*"'})
    assert result.returncode == 0
    assert f"--answer-file={tmp_path}/answers/answers.txt" in result.stdout
    assert "packstack finished" in result.stdout


def test_packstack_apply_refuses_without_answers(tmp_path):
    result = run("packstack-apply.sh", tmp_path, {"LAB_ANSWER_DIR": str(tmp_path / "none")}, fakes={"packstack": "exit 0"})
    assert result.returncode != 0 and "no answer file" in result.stderr


def test_sync_hosts_writes_once(tmp_path):
    target = tmp_path / "hosts"
    content = "127.0.0.1 localhost\n10.0.0.10 controller.a.lab.internal controller\n"
    first = run("sync-hosts.sh", tmp_path, {"LAB_HOSTS_FILE": str(target)}, content)
    second = run("sync-hosts.sh", tmp_path, {"LAB_HOSTS_FILE": str(target)}, content)
    assert first.returncode == 0 and "updated" in first.stdout
    assert second.returncode == 0 and "unchanged" in second.stdout
    assert target.read_text() == content


def test_sync_hosts_refuses_empty_input(tmp_path):
    target = tmp_path / "hosts"
    target.write_text("keep\n")
    result = run("sync-hosts.sh", tmp_path, {"LAB_HOSTS_FILE": str(target)}, "")
    assert result.returncode != 0 and target.read_text() == "keep\n"


def test_controller_root_key_is_made_once(tmp_path):
    env = {"LAB_SSH_DIR": str(tmp_path / "ssh")}
    first = run("controller-root-key.sh", tmp_path, env)
    second = run("controller-root-key.sh", tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("ssh-ed25519 ") and first.stdout == second.stdout
    assert stat.S_IMODE((tmp_path / "ssh").stat().st_mode) == 0o700


def test_trust_adds_the_controller_key_once_and_installs_known_hosts(tmp_path):
    env = {"LAB_SSH_DIR": str(tmp_path / "ssh"), "LAB_CONTROLLER_KEY": "ssh-ed25519 AAAAroot packstack@controller"}
    known = "10.0.0.10,controller ssh-ed25519 AAAAhost\n"
    first = run("trust-controller-key.sh", tmp_path, env, known)
    second = run("trust-controller-key.sh", tmp_path, env, known)
    assert first.returncode == second.returncode == 0
    keys = (tmp_path / "ssh" / "authorized_keys").read_text().splitlines()
    assert keys == ["ssh-ed25519 AAAAroot packstack@controller"]
    assert (tmp_path / "ssh" / "known_hosts").read_text() == known
    assert second.stdout == ""  # nothing to do the second time


@pytest.mark.parametrize("status, ok", [(0, True), (2, True), (1, False)])
def test_wait_for_boot_accepts_done_and_recoverable_cloud_init(tmp_path, status, ok):
    result = run("wait-for-boot.sh", tmp_path, fakes={"cloud-init": f"exit {status}"})
    assert (result.returncode == 0) is ok
    if not ok:
        assert "cloud-init failed" in result.stderr


def test_prep_scripts_demand_their_inputs(tmp_path):
    for script in ("prep-el9.sh", "prep-debian-test.sh"):
        result = run(script, tmp_path, {})
        assert result.returncode != 0 and "LAB_" in result.stderr, script


def test_rhel_register_keeps_credentials_out_of_argv():
    text = (SCRIPTS / "rhel-register.sh").read_text()
    assert "--password" not in text and "--username" not in text
    assert 'os.environ["LAB_RHSM_PASSWORD"]' in text
