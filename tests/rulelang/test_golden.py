"""Golden fixtures (tests/fixtures/rulelang/*.json, format in README.md there): what fires, and its text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from common.rulelang import compile_rules, parse_document, suppressed_rules, to_document
from common.rulelang.model import FEATURES, FIELDS
from common.rules import default_rules

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rulelang"
FILES = sorted(FIXTURES.glob("*.json"))


def document(rules: Any) -> dict[str, Any]:
    """A fixture's rules as a whole document: a bare list is the custom rules after the default built-ins."""
    if isinstance(rules, dict):
        return rules
    doc = to_document(default_rules())
    doc["rules"].extend(rules)
    return doc


def test_there_are_fixtures_for_every_part_of_the_language() -> None:
    names = {f.stem for f in FILES}
    assert {"fields", "combinators", "aggregates", "features", "lists", "explain", "suppressions"} <= names


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_golden(path: Path) -> None:
    fixture = json.loads(path.read_text())
    compiled = compile_rules(parse_document(document(fixture["rules"])))
    lists = fixture.get("lists", {})
    assert fixture["cases"], path
    known = {*FIELDS, "ts_ms", *FEATURES}
    needed = {a.key for a in compiled.plan.aggs} | set(compiled.plan.features)
    for i, case in enumerate(fixture["cases"]):
        facts = {**fixture.get("base_facts", {}), **case["facts"]}
        label = f"{path.stem} case {i}: {case.get('name', '')}"
        # every fact is one the rules can read (an aggregate key misspelt would silently never be read)
        assert set(facts) <= known | needed, (label, set(facts) - known - needed)
        assert needed <= set(facts), (label, needed - set(facts))
        reasons = compiled.evaluate(facts, lists)
        assert [r.rule for r in reasons] == case["fired"], label
        assert {r.rule: r.text for r in reasons} == case["texts"], label
        if "suppressed" in case:
            assert sorted(suppressed_rules(compiled, facts, lists)) == case["suppressed"], label
