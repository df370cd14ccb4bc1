"""docs/webhooks.md quotes the webhook outage figures only through the block bench/sec_webhooks.py makes."""

from __future__ import annotations

import json
from pathlib import Path

from bench.docs import TABLES, block
from bench.sec_webhooks import table

REPO = Path(__file__).resolve().parent.parent


def test_the_webhooks_block_is_generated_from_results() -> None:
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert block(REPO / "docs" / "webhooks.md", TABLES) == table(results).strip()
