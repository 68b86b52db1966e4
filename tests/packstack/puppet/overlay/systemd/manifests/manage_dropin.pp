# Debian's puppet-module-arioch-redis 11.0.0 (redis::instance) declares systemd::manage_dropin, a define of
# voxpupuli's systemd module (Packstack's Puppetfile pins voxpupuli-systemd 8.1.0 with redis 11.1.0, and RDO
# packages those); Debian packages camptocamp's systemd 2.12.0, which has no such define. This stand-in,
# written by the project for the packstack tier's catalog compile (never applied), takes what redis passes
# and declares the drop-in through the 2.12.0 module's own systemd::dropin_file, its [Unit], [Service] and
# [Install] entries rendered as key=value lines. It refuses what it does not do (restarting the unit).
define systemd::manage_dropin (
  String[1] $unit,
  String[1] $filename = $name,
  Enum['present', 'absent'] $ensure = 'present',
  Hash $unit_entry = {},
  Hash $service_entry = {},
  Hash $install_entry = {},
  Boolean $notify_service = false,
) {
  if $notify_service {
    fail("systemd::manage_dropin ${title}: notify_service is not supported by the packstack tier's stand-in")
  }
  $sections = { 'Unit' => $unit_entry, 'Service' => $service_entry, 'Install' => $install_entry }
  $content = $sections.filter |$section, $entries| { !$entries.empty }.map |$section, $entries| {
    (["[${section}]"] + $entries.map |$key, $value| { "${key}=${value}" }).join("\n")
  }.join("\n\n")
  systemd::dropin_file { $filename:
    ensure  => $ensure,
    unit    => $unit,
    content => "${content}\n",
  }
}
