"""Entry point: `python -m model train|registry ...` (model/cli.py)."""

import sys

from model.cli import main

sys.exit(main())
