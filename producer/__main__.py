"""`python -m producer`: stream seeded transactions to Kafka (see producer.cli)."""

import sys

from producer.cli import main

sys.exit(main())
