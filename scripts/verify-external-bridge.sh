#!/usr/bin/env bash
# After Packstack, on every node: the external bridge exists with the external NIC as
# its port, and the NIC still carries no address. Packstack maps the flat network
# (physnet extnet) to this bridge; without the port, floating IPs and router gateways
# on that node reach nothing. Changes nothing.
# Inputs (environment): LAB_BRIDGE (default br-ex), LAB_NIC (default eth1).
set -euo pipefail

bridge=${LAB_BRIDGE:-br-ex}
nic=${LAB_NIC:-eth1}
node=$(hostname -s)

command -v ovs-vsctl >/dev/null 2>&1 || { echo "$node: ovs-vsctl not found: Open vSwitch is not installed" >&2; exit 1; }
if ! ovs-vsctl br-exists "$bridge"; then
  echo "$node: Open vSwitch bridge $bridge does not exist (Packstack's CONFIG_NEUTRON_OVN_BRIDGE_IFACES / BRIDGES_COMPUTE)" >&2
  exit 1
fi
ports=$(ovs-vsctl list-ports "$bridge")
if ! grep -qx "$nic" <<<"$ports"; then
  echo "$node: $nic is not a port of $bridge (ports: ${ports:-none}); add it with: ovs-vsctl --may-exist add-port $bridge $nic" >&2
  exit 1
fi
addresses=$(ip -o addr show dev "$nic" | awk '{print $3, $4}')
if [ -n "$addresses" ]; then
  echo "$node: $nic is a port of $bridge but carries addresses: $addresses" >&2
  exit 1
fi
echo "$node: $bridge has $nic as a port, with no address on $nic"
