"""RulesConfig with custom rules: the stored Redis doc, today's threshold editor and the audit diff."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from common.rulelang import parse_document, to_document
from common.rules import RuleValidationError, apply_changes, default_rules, rules_to_dict, validate_rules
from common.rules_doc import Change, RulesDoc, decode_rules_doc, diff_rules, encode_rules_doc
from tests.rulelang.helpers import custom, doc

RULE = custom("online_big", explain="online {amount}")
SNOOZE = [{"list": "snoozed", "field": "card_id", "rules": ["*"]}]


def with_custom(*rules: dict[str, Any], suppressions: Any = ()) -> Any:
    return parse_document(doc(*rules, suppressions=list(suppressions)))


def test_a_config_without_custom_rules_stores_exactly_as_before() -> None:
    body = rules_to_dict(default_rules())
    assert "custom" not in body and "suppressions" not in body
    today = msgspec.json.encode(
        RulesDoc(version=3, rules=default_rules(), updated_by="ana", updated_at="2026-11-29T12:00:00.000Z")
    )
    assert b"custom" not in today and decode_rules_doc(today).rules == default_rules()


def test_the_stored_doc_keeps_custom_rules_and_suppressions() -> None:
    cfg = with_custom(RULE, suppressions=SNOOZE)
    stored = RulesDoc(version=4, rules=cfg, updated_by="ana", updated_at="2026-12-05T12:00:00.000Z")
    raw = encode_rules_doc(stored)
    assert decode_rules_doc(raw) == stored
    body = json.loads(raw)["rules"]
    assert body["custom"] == [{**RULE, "score": 0.6, "when": {**RULE["when"], "value": 1500.0}}]
    assert body["suppressions"] == SNOOZE


@pytest.mark.parametrize(
    ("custom_section", "message"),
    [
        ({}, "custom: expected a list"),
        ([{**RULE, "id": "x"}], "custom[0].id: expected an id"),
        ([RULE, RULE], 'custom[1].id: the id "online_big" is already used by custom[0]'),
        ([{**RULE, "when": {"field": "amount_usd", "op": "gt", "value": "x"}}], "custom[0].when.value"),
    ],
)
def test_a_stored_doc_with_a_bad_custom_section_is_refused(custom_section: Any, message: str) -> None:
    body = {**rules_to_dict(default_rules()), "custom": custom_section}
    raw = json.dumps({"version": 1, "rules": body, "updated_by": "a", "updated_at": "b"})
    with pytest.raises(RuleValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode_rules_doc(raw)


def test_a_stored_suppression_must_name_a_rule_that_exists() -> None:
    body = {
        **rules_to_dict(default_rules()),
        "suppressions": [{"list": "vip", "field": "card_id", "rules": ["gone"]}],
    }
    with pytest.raises(
        RuleValidationError, match=r'^suppressions\[0\]\.rules\[0\]: no rule with the id "gone"'
    ):
        validate_rules(body)


def test_the_threshold_editor_leaves_custom_rules_alone() -> None:
    cfg = with_custom(RULE, suppressions=SNOOZE)
    new = apply_changes(cfg, {"velocity": {"max_count": 8}})
    assert new.velocity.max_count == 8
    assert (new.custom, new.suppressions) == (cfg.custom, cfg.suppressions)
    assert validate_rules({"velocity": {"max_count": 8}}, base=cfg).custom == cfg.custom
    assert validate_rules(rules_to_dict(cfg)) == cfg
    assert apply_changes(cfg, {}) == cfg


def test_diff_lists_custom_rules_added_removed_and_changed() -> None:
    base = with_custom(RULE, custom("other_rule"))
    changed = with_custom(
        {**RULE, "enabled": False, "when": {"field": "amount_usd", "op": "gt", "value": 2000}},
        custom("third_rule"),
        suppressions=SNOOZE,
    )
    before, after = rules_to_dict(base)["custom"], rules_to_dict(changed)["custom"]
    assert diff_rules(base, changed) == [
        Change("online_big", "enabled", True, False),
        Change("online_big", "when", before[0]["when"], after[0]["when"]),
        Change("other_rule", "removed", before[1], None),
        Change("third_rule", "added", None, after[1]),
        Change("suppressions", "suppressions", [], SNOOZE),
    ]
    assert diff_rules(changed, changed) == []
    velocity = apply_changes(changed, {"velocity": {"max_count": 9}})
    assert diff_rules(changed, velocity) == [Change("velocity", "max_count", 6, 9)]


def test_a_document_and_the_editor_agree() -> None:
    cfg = with_custom(RULE)
    body = to_document(apply_changes(cfg, {"high_amount": {"threshold": 7000}}))
    assert body["rules"][0]["params"]["threshold"] == 7000.0 and body["rules"][-1]["id"] == "online_big"
