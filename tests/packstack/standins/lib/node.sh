# Sourced by the stand-ins: which lab node a stand-in answers for, and that node's state directory.
# Over SSH it is the address the session came in on (sshd's SSH_CONNECTION: client address, client
# port, server address, server port); a command Packstack runs locally (all-in-one: prescript_000.py)
# runs on the controller, named by $STANDIN_NODES/local. tests/packstack/dryrun_nodes.py writes the state.
# shellcheck shell=bash

node_dir() {
  local nodes=${STANDIN_NODES:?STANDIN_NODES: the stand-ins state directory (sshd SetEnv, Packstack env)} address
  if [ -n "${SSH_CONNECTION:-}" ]; then
    read -r _ _ address _ <<<"$SSH_CONNECTION"
  else
    address=$(<"$nodes/local")
  fi
  [ -d "$nodes/$address" ] || { echo "stand-in $(basename "$0"): no node $address in $nodes" >&2; exit 2; }
  printf '%s\n' "$nodes/$address"
}

# A call the stand-in does not model fails loudly, so a new Packstack step shows up instead of passing.
unsupported() {
  echo "stand-in $(basename "$0"): unsupported call: $*" >&2
  exit 2
}
