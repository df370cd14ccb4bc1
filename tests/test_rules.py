"""Rule parameters: defaults, editor specs, validation, partial updates, diff and the Redis doc."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.rules import (
    DEFAULTS_PATH,
    RULE_SPECS,
    RulesConfig,
    RuleValidationError,
    apply_changes,
    default_rules,
    rules_to_dict,
    validate_rules,
)
from common.rules_doc import Change, RulesDoc, decode_rules_doc, diff_rules, encode_rules_doc


def test_defaults_come_from_the_json_file() -> None:
    assert rules_to_dict(default_rules()) == json.loads(DEFAULTS_PATH.read_text())


def test_specs_describe_exactly_the_config_fields() -> None:
    cfg = rules_to_dict(default_rules())
    assert list(RULE_SPECS) == list(cfg)
    for name, spec in RULE_SPECS.items():
        assert [f.name for f in spec.fields] == list(cfg[name]), name
        for f in spec.fields:
            assert f.label and f.description, (name, f.name)
            if f.type in ("int", "float"):
                assert f.min is not None and f.max is not None and f.min <= cfg[name][f.name] <= f.max


def test_specs_encode_to_json_for_the_editor() -> None:
    body = msgspec.json.decode(msgspec.json.encode(RULE_SPECS))
    assert body["velocity"]["fields"][3] == {
        "name": "max_count",
        "label": "Max count",
        "description": RULE_SPECS["velocity"].fields[3].description,
        "type": "int",
        "min": 2,
        "max": 50,
    }


def test_default_values_the_team_relies_on() -> None:
    r = default_rules()
    assert (r.high_amount.threshold, r.velocity.window_s, r.velocity.max_count) == (5000.0, 60, 6)
    assert (r.impossible_travel.max_speed_kmh, r.impossible_travel.min_distance_km) == (900.0, 500.0)
    assert not r.ml_anomaly.enabled


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "rules: expected an object"),
        ({"nope": {}}, "unknown rule 'nope'"),
        ({"velocity": 3}, "velocity: expected an object"),
        ({"velocity": {"max_cnt": 6}}, "velocity: unknown field 'max_cnt'"),
        ({"velocity": {"max_count": True}}, "velocity.max_count: expected a number"),
        ({"velocity": {"max_count": "6"}}, "velocity.max_count: expected a number"),
        ({"velocity": {"max_count": 6.5}}, "velocity.max_count: expected a whole number"),
        ({"velocity": {"max_count": 1}}, "velocity.max_count: 1 is out of range [2, 50]"),
        ({"high_amount": {"threshold": False}}, "high_amount.threshold: expected a number"),
        ({"high_amount": {"threshold": float("nan")}}, "high_amount.threshold: must be a finite number"),
        ({"high_amount": {"threshold": float("inf")}}, "high_amount.threshold: must be a finite number"),
        ({"high_amount": {"threshold": 10**400}}, "high_amount.threshold: must be a finite number"),
        ({"high_amount": {"threshold": -1}}, "high_amount.threshold: -1.0 is out of range"),
        ({"high_amount": {"enabled": 1}}, "high_amount.enabled: expected true/false"),
        ({"unknown_location": {"deny_cities": "Paris"}}, "unknown_location.deny_cities: expected a list"),
        ({"unknown_location": {"deny_cities": ["Paris", 3]}}, "unknown_location.deny_cities: entries"),
        ({"unknown_location": {"deny_cities": [" "]}}, "unknown_location.deny_cities: entries"),
        ({"alerting": {"medium_score": 0.9, "high_score": 0.8}}, "alerting.medium_score: must not exceed"),
    ],
)
def test_validation_errors_name_the_field(raw: Any, message: str) -> None:
    with pytest.raises(RuleValidationError) as info:
        validate_rules(raw)
    assert message in str(info.value)


def test_validation_fills_gaps_from_defaults_and_normalises_types() -> None:
    cfg = validate_rules(
        {
            "high_amount": {"threshold": 7000},
            "velocity": {"window_s": 30.0},
            "unknown_location": {"deny_cities": [" Paris", "Paris", "Rome"]},
        }
    )
    assert cfg.high_amount.threshold == 7000.0 and isinstance(cfg.high_amount.threshold, float)
    assert cfg.velocity.window_s == 30 and isinstance(cfg.velocity.window_s, int)
    assert cfg.unknown_location.deny_cities == ("Paris", "Rome")
    assert cfg.card_testing == default_rules().card_testing


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELD_NAMES = sorted({f.name for spec in RULE_SPECS.values() for f in spec.fields})
NEAR_VALID = st.dictionaries(
    st.sampled_from([*RULE_SPECS, "bogus"]),
    st.dictionaries(st.sampled_from([*FIELD_NAMES, "bogus"]), JSON, max_size=4) | JSON,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(JSON | NEAR_VALID)
def test_validate_rules_only_ever_raises_rule_validation_error(raw: Any) -> None:
    try:
        cfg = validate_rules(raw)
    except RuleValidationError:
        return
    assert isinstance(cfg, RulesConfig)
    assert validate_rules(rules_to_dict(cfg)) == cfg  # whatever is accepted survives a round trip


def test_apply_changes_is_partial_validated_and_leaves_the_input_alone() -> None:
    base = default_rules()
    new = apply_changes(base, {"velocity": {"max_count": 8}, "ml_anomaly": {"enabled": True}})
    assert (new.velocity.max_count, new.ml_anomaly.enabled) == (8, True)
    assert new.velocity.window_s == base.velocity.window_s and base.velocity.max_count == 6
    with pytest.raises(RuleValidationError, match=r"velocity\.max_count"):
        apply_changes(new, {"velocity": {"max_count": 0}})
    assert apply_changes(new, {}) == new


def test_diff_rules_lists_each_changed_field_with_json_values() -> None:
    base = default_rules()
    new = apply_changes(base, {"velocity": {"max_count": 8}, "unknown_location": {"deny_cities": ["Rome"]}})
    assert diff_rules(base, new) == [
        Change("unknown_location", "deny_cities", [], ["Rome"]),
        Change("velocity", "max_count", 6, 8),
    ]
    assert diff_rules(new, new) == []


def test_rules_doc_round_trip() -> None:
    doc = RulesDoc(
        version=7,
        rules=apply_changes(default_rules(), {"high_amount": {"threshold": 900}}),
        updated_by="ana",
        updated_at="2026-11-29T12:00:00.000Z",
    )
    assert decode_rules_doc(encode_rules_doc(doc)) == doc


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"version": 1}',
        b'{"version": true, "rules": {}, "updated_by": "a", "updated_at": "b"}',
        b'{"version": 1, "rules": {"x": {}}, "updated_by": "a", "updated_at": "b"}',
        b'{"version": -1, "rules": {}, "updated_by": "a", "updated_at": "b"}',
        b"[" * 10_000,
    ],
)
def test_decode_rules_doc_rejects_garbage(raw: bytes) -> None:
    with pytest.raises(RuleValidationError):
        decode_rules_doc(raw)
