"""The README and docs quote measured figures only through generated blocks, and stay short and linked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

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


def test_the_configuration_table_is_generated_from_the_settings_dataclasses() -> None:
    """docs/configuration.md holds exactly the table infra.config_docs builds from the dataclasses."""
    from infra.config_docs import DOC, render

    current = DOC.read_text()
    assert render(current) == current, "docs/configuration.md is stale: run python -m infra.config_docs"


def test_a_setting_without_doc_text_cannot_be_tabled() -> None:
    """A field declared without common.settings.setting(doc=...) stops the generator with its name."""
    from dataclasses import dataclass, field, fields

    from infra.config_docs import UndocumentedSetting, _row

    @dataclass(frozen=True)
    class Loose:
        knob: int = field(default=1, metadata={"env": "KNOB"})

    with pytest.raises(UndocumentedSetting, match=r"Loose\.knob"):
        _row(fields(Loose)[0], "bridge", "Loose")


def test_every_setting_variable_appears_in_the_table() -> None:
    """Each variable a settings dataclass reads is a row of the generated table (names, not prose)."""
    from dataclasses import fields

    from infra.config_docs import SERVICES, table

    text = table()
    missing = [
        f.metadata.get("env", f.name.upper())
        for _, cls in SERVICES
        for f in fields(cls)
        if f"| `{f.metadata.get('env', f.name.upper())}` |" not in text
    ]
    assert not missing, f"the generated table lacks {missing}"
