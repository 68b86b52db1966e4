"""`python -m lab.config`: rewrite Pulumi.yaml's `config:` block from the schema."""
import sys
from pathlib import Path

from lab.config.schema import write_pulumi_yaml

target = Path(__file__).resolve().parents[2] / "Pulumi.yaml"
write_pulumi_yaml(target)
print(f"wrote the config block of {target}", file=sys.stderr)
