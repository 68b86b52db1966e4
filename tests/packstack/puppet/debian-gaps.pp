# Evaluated before Packstack's controller manifest by the packstack tier's catalog compile
# (tests/packstack/catalog.py), never applied anywhere.
#
# Debian's puppet-module-swift 25.0.0 patches swift::storage to pass `conf_file` to rsync::server; upstream's
# (stable/2024.2 and stable/2025.1 manifests/storage.pp) passes only use_xinetd, address and use_chroot, as
# swift::ringserver does. Both declare the class with stdlib's ensure_resource, which declares it again
# unless an existing declaration matches every given parameter: Packstack's controller has the ring server
# and the storage node (packstack::swift::ringbuilder, packstack::swift::storage), so with Debian's patch
# the second call is a duplicate declaration. Declaring the class first with the union of both parameter
# sets (the values both would pass, conf_file as Debian's storage passes it) satisfies both calls; the only
# other difference in the catalog is the class's container (main instead of swift::ringserver).
if lookup('CONFIG_SWIFT_INSTALL') == 'y' {
  include swift::params
  class { 'rsync::server':
    use_xinetd => $swift::params::xinetd_available,
    address    => lookup('CONFIG_STORAGE_HOST'),
    use_chroot => 'no',
    conf_file  => '/etc/rsyncd.conf',
  }
}
