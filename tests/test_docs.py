"""The README and docs quote measured figures only through generated blocks, and stay short and linked."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.docs import HEADLINE, TABLES, block, headline
from bench.report import markdown

REPO = Path(__file__).resolve().parent.parent
RESULTS = json.loads((REPO / "bench" / "results.json").read_text())


def test_readme_headline_is_generated_from_results() -> None:
    assert block(REPO / "README.md", HEADLINE) == headline(RESULTS).strip()


def test_performance_tables_are_generated_from_results() -> None:
    assert block(REPO / "docs" / "performance.md", TABLES) == markdown(RESULTS).strip()


def test_readme_is_a_short_front_door() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README has {len(lines)} lines; details belong in docs/"


def test_every_relative_link_in_readme_and_docs_exists() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_prose_outside_generated_blocks_retypes_no_benchmark_figure() -> None:
    """Rates, ratios and latencies measured by the bench appear only inside generated blocks."""
    generated = re.compile(r"<!-- (bench|headline):start -->.*?<!-- \1:end -->", re.DOTALL)
    # measured forms: CPU per event, decimal ratios, percentiles with a value (rates and sizes that
    # appear in prose are test parameters: "30 minutes at 2,000 events/s")
    figure = re.compile(r"\b\d[\d,.]*\s*µs\b|\b\d+\.\d+\s*\u00d7|\bp(?:50|95|99) \d")
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        prose = generated.sub("", page.read_text())
        found = figure.findall(prose)
        assert not found, f"{page.name} retypes measured figures {found[:5]}: splice them from results.json"


def test_every_setting_is_documented_in_configuration() -> None:
    """Each environment variable a service's settings dataclass reads has a row in docs/configuration.md."""
    from dataclasses import fields

    from bridge.config import BridgeSettings
    from dashapp.settings import DashSettings
    from producer.cli import ProducerSettings

    doc = (REPO / "docs" / "configuration.md").read_text()
    missing = [
        f.metadata.get("env", f.name.upper())
        for cls in (BridgeSettings, DashSettings, ProducerSettings)
        for f in fields(cls)
        if f"`{f.metadata.get('env', f.name.upper())}`" not in doc
    ]
    assert not missing, f"docs/configuration.md lacks {missing}"
