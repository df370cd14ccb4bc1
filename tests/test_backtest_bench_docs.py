"""docs/backtest.md quotes the backtest's figures only through the block bench/sec_backtest.py makes."""

from __future__ import annotations

import json
from pathlib import Path

from bench.docs import TABLES, block
from bench.sec_backtest import table

REPO = Path(__file__).resolve().parent.parent


def test_the_backtest_block_is_generated_from_results() -> None:
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert block(REPO / "docs" / "backtest.md", TABLES) == table(results).strip()


def test_the_block_says_when_there_are_no_figures() -> None:
    assert "no backtest figures" in table({})
