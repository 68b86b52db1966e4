"""openstack-lab: a multi-node OpenStack lab on one libvirt host, one stack per developer."""
import pulumi

from components.lab import OpenStackLab
from lab.config import ConfigError, load

try:
    config = load()
except ConfigError as err:
    # One diagnostic per problem, then a clean stop before any resource is declared.
    for problem in err.problems:
        pulumi.log.error(f"{pulumi.get_project()}:{problem}")
    raise pulumi.RunError(f"{len(err.problems)} configuration problem(s), listed above") from None

lab = OpenStackLab("lab", config)
for key, value in lab.outputs.items():
    pulumi.export(key, value)
