"""scripts/storage-lvm.sh run for real with fake LVM and block tools: makes cinder-volumes once, refuses
disks it did not make, checks Swift's disk."""
import subprocess

from harness import run_script


GIB = 1024**3

# Fake tools keep their state in $FAKE_STATE: size (bytes), sig (blkid TYPE), pt (PTTYPE), vg (name:device).
FAKES = {
    "hostname": "echo controller",
    "blockdev": 'cat "$FAKE_STATE/size"',
    "blkid": r'''
for a; do key=$a; done
dev=$key
case "$*" in
  *PTTYPE*) [ -s "$FAKE_STATE/pt" ] && cat "$FAKE_STATE/pt" || exit 2;;
  *TYPE*) [ -s "$FAKE_STATE/sig" ] && cat "$FAKE_STATE/sig" || exit 2;;
esac''',
    "vgs": '[ -s "$FAKE_STATE/vg" ] && [ "$(cut -d: -f1 "$FAKE_STATE/vg")" = "$1" ]',
    "pvs": r'''
if [ "$*" = "--noheadings -o vg_name $FAKE_DEV" ]; then cut -s -d: -f1 "$FAKE_STATE/vg" 2>/dev/null || true
else echo "  $(cut -d: -f2 "$FAKE_STATE/vg")"; fi''',
    "pvcreate": 'echo "pvcreate $*" >> "$FAKE_STATE/calls"; echo LVM2_member > "$FAKE_STATE/sig"',
    "vgcreate": 'echo "vgcreate $*" >> "$FAKE_STATE/calls"; echo "$2:$3" > "$FAKE_STATE/vg"',
    "dnf": 'echo "dnf $*" >> "$FAKE_STATE/calls"',
}


def setup(tmp_path, size_gib=40, sig="", pt=""):
    state = tmp_path / "state"
    state.mkdir()
    (state / "size").write_text(str(size_gib * GIB))
    (state / "sig").write_text(sig)
    (state / "pt").write_text(pt)
    dev = tmp_path / "vdb"
    dev.write_text("")
    env = {"FAKE_STATE": str(state), "FAKE_DEV": str(dev), "LAB_CINDER_DEVICE": str(dev),
           "LAB_CINDER_SIZE_GIB": "40", "LAB_CINDER_VG": "cinder-volumes"}
    return state, dev, env


def calls(state):
    path = state / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_blank_disk_gets_the_volume_group_and_a_second_run_changes_nothing(tmp_path):
    state, dev, env = setup(tmp_path)
    first = run_script("storage-lvm.sh", tmp_path, env, fakes=FAKES)
    assert first.returncode == 0, first.stderr
    assert calls(state) == [f"pvcreate -q {dev}", f"vgcreate -q cinder-volumes {dev}"]
    assert "volume group cinder-volumes made" in first.stdout
    second = run_script("storage-lvm.sh", tmp_path, env, fakes=FAKES)
    assert second.returncode == 0, second.stderr
    assert len(calls(state)) == 2 and "present" in second.stdout


def test_a_disk_with_a_file_system_or_partition_table_is_refused(tmp_path):
    for i, (sig, pt) in enumerate((("ext4", ""), ("", "gpt"))):
        tmp = tmp_path / str(i)
        tmp.mkdir()
        state, dev, env = setup(tmp, sig=sig, pt=pt)
        result = run_script("storage-lvm.sh", tmp, env, fakes=FAKES)
        assert result.returncode == 1
        assert "the lab did not make" in result.stderr and (sig or pt) in result.stderr
        assert calls(state) == []


def test_a_disk_of_another_size_is_refused_before_anything(tmp_path):
    state, dev, env = setup(tmp_path, size_gib=41)
    result = run_script("storage-lvm.sh", tmp_path, env, fakes=FAKES)
    assert result.returncode == 1 and "not the 40 GiB" in result.stderr
    assert calls(state) == []


def test_a_missing_disk_fails_naming_it(tmp_path):
    state, dev, env = setup(tmp_path)
    dev.unlink()
    result = run_script("storage-lvm.sh", tmp_path, env, fakes=FAKES)
    assert result.returncode == 1 and f"no disk {dev}" in result.stderr


def test_the_volume_group_on_another_disk_is_refused(tmp_path):
    state, dev, env = setup(tmp_path)
    (state / "vg").write_text("cinder-volumes:/dev/vdz")
    result = run_script("storage-lvm.sh", tmp_path, env, fakes=FAKES)
    assert result.returncode == 1 and "exists on /dev/vdz" in result.stderr


def test_lvm2_is_installed_when_missing(tmp_path):
    state, dev, env = setup(tmp_path)
    fakes = {k: v for k, v in FAKES.items() if k != "pvcreate"}
    # A PATH without pvcreate: only the fakes' dir and the basics the script needs.
    bin_dir = tmp_path / "bin"
    result = subprocess.run(
        ["bash", "-c", f'PATH="{bin_dir}:/usr/bin:/bin"; command -v pvcreate || echo none'],
        capture_output=True, text=True,
    )
    if result.stdout.strip() != "none":  # the host has LVM itself; nothing to prove here
        return
    out = run_script("storage-lvm.sh", tmp_path, {**env, "PATH": f"{bin_dir}:/usr/bin:/bin"}, fakes=fakes)
    assert "dnf -y -q install lvm2" in calls(state)
    assert out.returncode != 0  # pvcreate still missing after the fake dnf


def test_swift_disk_is_only_checked(tmp_path):
    state, dev, env = setup(tmp_path, size_gib=20)
    swift_env = {"FAKE_STATE": env["FAKE_STATE"], "LAB_SWIFT_DEVICE": str(dev), "LAB_SWIFT_SIZE_GIB": "20"}
    ok = run_script("storage-lvm.sh", tmp_path, swift_env, fakes=FAKES)
    assert ok.returncode == 0, ok.stderr and "Packstack makes" in ok.stdout
    assert calls(state) == []
    (state / "sig").write_text("xfs")  # what Packstack made: fine on a re-run
    assert run_script("storage-lvm.sh", tmp_path, swift_env, fakes=FAKES).returncode == 0
    (state / "sig").write_text("ntfs")
    refused = run_script("storage-lvm.sh", tmp_path, swift_env, fakes=FAKES)
    assert refused.returncode == 1 and "ntfs" in refused.stderr


def test_nothing_to_do_without_disks(tmp_path):
    result = run_script("storage-lvm.sh", tmp_path, {}, fakes=FAKES)
    assert result.returncode == 0 and result.stdout == ""
