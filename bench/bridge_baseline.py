"""Bench only: `python -m bench.bridge_baseline` is the bridge without publishing alerts to Kafka.

The baseline the alerts-out section measures the cost of publishing against; the service itself
has no such switch (bridge.cli.main's `publish_alerts` is not an option of `python -m bridge`).
"""

from __future__ import annotations

import sys

from bridge.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], publish_alerts=False))
