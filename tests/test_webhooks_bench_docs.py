"""docs/webhooks.md and reliability.md quote the webhook outage and alerts-out figures only through the
blocks bench/sec_webhooks.py and bench/sec_alerts_out.py make."""

from __future__ import annotations

import json
from pathlib import Path

from bench import sec_alerts_out
from bench.docs import TABLES, block
from bench.sec_webhooks import table

REPO = Path(__file__).resolve().parent.parent


def test_the_webhooks_block_is_generated_from_results() -> None:
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert block(REPO / "docs" / "webhooks.md", TABLES) == table(results).strip()


def test_the_alerts_out_block_is_generated_from_results() -> None:
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert block(REPO / "docs" / "reliability.md", TABLES) == sec_alerts_out.table(results).strip()
