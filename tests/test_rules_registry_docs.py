"""docs/rules-api.md quotes the registry's measured figures only through its generated block."""

from __future__ import annotations

import json
from pathlib import Path

from bench.docs import TABLES, block, registry

REPO = Path(__file__).resolve().parent.parent


def test_rules_api_figures_are_generated_from_results() -> None:
    results = json.loads((REPO / "bench" / "results.json").read_text())
    assert "registry" in results
    assert block(REPO / "docs" / "rules-api.md", TABLES) == registry(results).strip()
