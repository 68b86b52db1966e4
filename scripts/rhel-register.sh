#!/usr/bin/env bash
# Registers a RHEL node with Red Hat Subscription Management. The credentials
# arrive in the environment (LAB_RHSM_USERNAME, LAB_RHSM_PASSWORD) and go to
# rhsm's D-Bus API, never to argv. Does nothing when already registered.
set -euo pipefail
: "${LAB_RHSM_USERNAME:?}" "${LAB_RHSM_PASSWORD:?}"

if subscription-manager identity >/dev/null 2>&1; then
  echo "already registered"
  exit 0
fi
python3 - <<'PY'
import os
import dbus

bus = dbus.SystemBus()
server = bus.get_object("com.redhat.RHSM1", "/com/redhat/RHSM1/RegisterServer")
address = server.Start("", dbus_interface="com.redhat.RHSM1.RegisterServer")
try:
    private = dbus.connection.Connection(address)
    register = private.get_object("com.redhat.RHSM1", "/com/redhat/RHSM1/Register")
    register.Register(
        "",
        os.environ["LAB_RHSM_USERNAME"],
        os.environ["LAB_RHSM_PASSWORD"],
        {"enable_content": "1"},
        {},
        "C.UTF-8",
        dbus_interface="com.redhat.RHSM1.Register",
    )
finally:
    server.Stop("", dbus_interface="com.redhat.RHSM1.RegisterServer")
PY
echo "registered"
