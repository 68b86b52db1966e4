#!/usr/bin/env bash
# Runs on `pulumi destroy` on an existing machine (existingComputes): the lab did not create it,
# so it removes nothing there (packages, OpenStack services and files stay) and says so.
# Inputs (environment): LAB_NODE (the machine's name in the lab).
set -euo pipefail
echo "openstack-lab: leaving existing machine ${LAB_NODE:-$(hostname -s)} ($(hostname -f)) as it is: nothing on it is removed"
