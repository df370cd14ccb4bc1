"""`python -m backtest ...`: see backtest/cli.py."""

import sys

from backtest.cli import main

sys.exit(main())
