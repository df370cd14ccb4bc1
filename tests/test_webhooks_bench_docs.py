"""docs/webhooks.md and reliability.md quote the webhook outage and alerts-out figures only through the
blocks bench/docs_out.py makes."""

from __future__ import annotations

import json
from pathlib import Path

from bench.docs import TABLES, block
from bench.docs_out import alerts_out_table, webhooks_table

REPO = Path(__file__).resolve().parent.parent


def test_the_webhooks_block_is_generated_from_results() -> None:
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert block(REPO / "docs" / "webhooks.md", TABLES) == webhooks_table(results).strip()


def test_the_alerts_out_block_is_generated_from_results() -> None:
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert block(REPO / "docs" / "reliability.md", TABLES) == alerts_out_table(results).strip()
