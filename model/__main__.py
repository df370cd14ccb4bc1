"""Entry point: `python -m model train ...` (model/cli.py)."""

import sys

from model.cli import main

sys.exit(main())
