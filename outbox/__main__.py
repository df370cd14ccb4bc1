"""Entry point: `python -m outbox relay` / `python -m outbox rebuild`."""

import sys

from outbox.cli import main

sys.exit(main())
