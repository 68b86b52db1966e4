"""`python -m tools.verify --stack NAME` (what `make verify` runs)."""
import sys

from tools.verify.cli import main

sys.exit(main())
