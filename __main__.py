"""openstack-lab: a multi-node OpenStack lab on one libvirt host, one stack per developer."""
import pulumi

from components.lab import build
from lab.config import ConfigError, load
from lab.preflight import HostNotReady, require_host_ready

try:
    config = load()
    require_host_ready(config)  # the fatal `make doctor` checks, of this machine and every host (over its URI)
except (ConfigError, HostNotReady) as err:
    # One diagnostic per problem, then a clean stop before any resource is declared.
    for problem in err.problems:
        pulumi.log.error(f"{pulumi.get_project()}:{problem}")
    raise pulumi.RunError(f"{len(err.problems)} problem(s) with the configuration or this host, listed above") from None

# Only what the mode and the stages produce, each under LabOutputs' own export name.
for name, value in build(config).as_dict().items():
    pulumi.export(name, value)
