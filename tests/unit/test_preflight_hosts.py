"""A libvirt host by its URI (lab/preflight/hosts.py): on this machine or not, its socket."""
from lab.preflight.hosts import is_local, is_test_driver, libvirt_socket


def test_local_uris_and_their_sockets():
    assert is_local("qemu:///system") and is_local("qemu+unix:///system?socket=/tmp/s")
    assert not is_local("qemu+ssh://root@host2/system")
    assert libvirt_socket("qemu+unix:///system?socket=/tmp/x/libvirt-sock") == "/tmp/x/libvirt-sock"
    assert libvirt_socket("qemu:///system") == "/run/libvirt/libvirt-sock"
    assert is_test_driver("test+unix:///default?socket=/s") and not is_test_driver("qemu:///system")

