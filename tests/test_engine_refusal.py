"""The native engine refuses rules it cannot evaluate: every event then goes to Python, and it says why."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from dash import html

from bridge.native import NativePath
from common.rules import default_rules
from dashapp.store.models import BridgeInfo, Health
from dashapp.views.health import engine_lines, health_view
from producer import generate
from tests.native_gate import needs_native
from tests.test_native_path import MAX_BYTES, Paths, as_records, batches

pytestmark = needs_native()

AGG = {"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 3}
# Shapes the language may grow and the native engine does not know (a distinct over a column the
# history does not keep, a median, a week unit): each must refuse, never be skipped.
UNKNOWN_AGG = {**AGG, "of": "channel"}


def custom_rule(rule_id: str, when: dict[str, Any], *, enabled: bool = True) -> dict[str, Any]:
    """A custom rule in the document form RulesConfig.custom encodes to."""
    return {
        "id": rule_id,
        "name": rule_id.replace("_", " "),
        "description": "test rule",
        "enabled": enabled,
        "score": 0.8,
        "when": when,
        "explain": "fired",
    }


def config(custom: list[dict[str, Any]], **sections: Any) -> bytes:
    """Today's default config as the bridge encodes it, plus custom rules and sections."""
    body = json.loads(msgspec.json.encode(default_rules()))
    body["custom"], body["suppressions"] = custom, []
    body.update(sections)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (UNKNOWN_AGG, "rule r_test uses agg distinct of channel (not known natively)"),
        (
            {"all": [{"field": "channel", "op": "eq", "value": "online"}, {"not": {**AGG, "agg": "median"}}]},
            "rule r_test uses agg median of country (not known natively)",
        ),
        ({**AGG, "window": "1w"}, "rule r_test uses window 1w (not known natively)"),
        (
            {**AGG, "where": {"field": "city", "op": "starts_with", "value": "Pa"}},
            "rule r_test uses where operator starts_with on city (not known natively)",
        ),
        (
            {"feature": "new_country", "op": "gt", "value": True},
            "rule r_test uses operator gt on new_country (not known natively)",
        ),
        ({"feature": "risk", "op": "gt", "value": 1}, "rule r_test uses feature risk (not known natively)"),
        ({"field": "ip", "op": "eq", "value": "x"}, "rule r_test uses field ip (not known natively)"),
        (
            {"field": "city", "op": "matches", "value": "x"},
            "rule r_test uses operator matches on city (not known natively)",
        ),
        (
            {"field": "city", "op": "eq", "value": "x", "case": "fold"},
            'rule r_test uses key "case" in a condition (not known natively)',
        ),
    ],
)
def test_each_unsupported_rule_is_refused_with_its_reason(when: dict[str, Any], reason: str) -> None:
    path = NativePath(default_rules(), MAX_BYTES, 100)
    assert path.refusal is None
    assert path.engine.set_rules(config([custom_rule("r_test", when)])) == reason
    assert path.refusal == reason
    # a disabled rule is never evaluated: nothing to refuse
    assert path.engine.set_rules(config([custom_rule("r_test", when, enabled=False)])) is None
    assert path.refusal is None


@pytest.mark.parametrize(
    ("change", "unknown"),
    [
        ({"velocity": {**msgspec.to_builtins(default_rules().velocity), "max_distinct": 3}}, "max_distinct"),
        ({"geo_fence": {"enabled": True}}, "geo_fence"),
        ({"suppressions": [{"list": "vip", "field": "card_id", "rules": ["*"], "until": 1}]}, "until"),
    ],
)
def test_a_config_that_does_not_parse_natively_is_refused(change: dict[str, Any], unknown: str) -> None:
    path = NativePath(default_rules(), MAX_BYTES, 100)
    why = path.engine.set_rules(config([], **change))
    assert why is not None and why.startswith("the rules config does not parse natively")
    assert f"unknown field `{unknown}`" in why


def test_aggregates_and_new_features_are_evaluated_natively() -> None:
    path = NativePath(default_rules(), MAX_BYTES, 100)
    for when in (
        AGG,
        {"feature": "new_country", "op": "eq", "value": True},
        {"not": {**AGG, "agg": "max", "of": "amount_usd"}},
    ):
        assert path.engine.set_rules(config([custom_rule("r_test", when)])) is None


def test_a_refused_engine_hands_every_event_to_python() -> None:
    """With refused rules the native engine decides nothing, yet writes exactly what Python does."""
    records = as_records(generate(seed=3, count=3_000))
    paths = Paths(default_rules())
    paths.native.engine.set_rules(config([custom_rule("many_channels", UNKNOWN_AGG)]))
    assert paths.native.refusal is not None
    for k, batch in enumerate(batches(records)):
        paths.step(batch, f"batch {k}")
    assert paths.scored == len(records)
    assert paths.nat_detector.calls == len(records)  # Python decided every single event
    # the same engine given rules it supports is again exactly an engine that never refused
    assert paths.native.engine.set_rules(config([])) is None
    fresh = Paths(default_rules())
    fresh.redis = dict(paths.redis)
    paths.clear()
    paths.nat_detector.calls = 0
    for k, batch in enumerate(batches(as_records(generate(seed=4, count=2_000)))):
        paths.step(batch, f"after batch {k}")
        fresh.step(batch, f"fresh batch {k}")
    assert 0 < paths.nat_detector.calls == fresh.nat_detector.calls < 2_000


def _health(*bridges: BridgeInfo) -> Health:
    return Health(
        bridges=bridges,
        bridges_alive=sum(b.alive for b in bridges),
        lag={},
        total_lag=0,
        dlq_total=0,
        dlq_reasons={},
        dlq_samples=(),
        last_write_ms=None,
        last_write_age_s=None,
        freshness="dead",
    )


def _bridge(name: str, engine: str, *, alive: bool = True) -> BridgeInfo:
    return BridgeInfo(name, alive, 0.5, 10, (0,), 1, "host", engine)


def _texts(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    children = getattr(node, "children", None)
    if children is None:
        return []
    if not isinstance(children, list | tuple):
        children = [children]
    return [t for c in children for t in _texts(c)]


def test_the_health_panel_says_which_engine_decides_and_why() -> None:
    off = (
        "native engine off: rule many_channels uses agg distinct of channel (not known natively)"
        " \u2014 Python decides every event"
    )
    h = _health(
        _bridge("b1", off), _bridge("b2", off), _bridge("b3", "native"), _bridge("b4", off, alive=False)
    )
    assert engine_lines(h) == [f"{off} (b1, b2)", "native (b3)"]
    panel = html.Div(health_view(h))
    assert f"{off} (b1, b2)" in _texts(panel)
    assert engine_lines(_health(_bridge("old", ""))) == []  # a bridge from before engines reported
