# shellcheck shell=bash
# Source this file (bash or zsh) to use the checkout's toolchain (built by toolchain/setup.sh):
#   source toolchain/env.sh
# Sets: PATH (.tools/bin first), PULUMI_HOME=<repo>/.tools/pulumi-home, PULUMI_SKIP_UPDATE_CHECK,
# PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION, and unless already set
# a local state backend PULUMI_BACKEND_URL=file://$HOME/.config/openstack-lab/state and
# PULUMI_CONFIG_PASSPHRASE_FILE=$HOME/.config/openstack-lab/passphrase (random, generated once, mode 600).
# Never prints the passphrase.

if [ -n "${BASH_SOURCE:-}" ]; then
    _osl_env_src=${BASH_SOURCE[0]}
elif [ -n "${ZSH_VERSION:-}" ]; then
    # shellcheck disable=SC2296
    _osl_env_src=${(%):-%x}
else
    _osl_env_src=$0
fi
_osl_repo=$(cd "$(dirname "$_osl_env_src")/.." && pwd)

case ":$PATH:" in
    *":$_osl_repo/.tools/bin:"*) ;;
    *) PATH="$_osl_repo/.tools/bin:$PATH" ;;
esac
export PATH
export PULUMI_HOME="$_osl_repo/.tools/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

_osl_cfg="$HOME/.config/openstack-lab"
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p "$_osl_cfg/state"
    export PULUMI_BACKEND_URL="file://$_osl_cfg/state"
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    if [ ! -s "$_osl_cfg/passphrase" ]; then
        mkdir -p "$_osl_cfg"
        (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' > "$_osl_cfg/passphrase.tmp" \
            && mv -f "$_osl_cfg/passphrase.tmp" "$_osl_cfg/passphrase")
    fi
    chmod 600 "$_osl_cfg/passphrase"
    export PULUMI_CONFIG_PASSPHRASE_FILE="$_osl_cfg/passphrase"
fi

if [ ! -x "$_osl_repo/.tools/bin/pulumi" ]; then
    echo "env.sh: $_osl_repo/.tools/bin/pulumi not found; run toolchain/setup.sh" >&2
fi
unset _osl_env_src _osl_repo _osl_cfg
