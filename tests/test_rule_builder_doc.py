"""Rule builder draft operations and validation messages placed on the form (real validator, no I/O)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.rulelang import parse_document, to_document
from common.rules import RuleValidationError, default_rules
from dashapp.views.lists_view import PAGE_ENTRIES, page_of
from dashapp.views.rule_builder_doc import (
    changes,
    check_rule,
    delete,
    duplicate,
    form_rule,
    index_of,
    put_rule,
    rules_of,
    toggle,
)
from dashapp.views.rule_builder_rows import condition_to_rows
from dashapp.views.versions_view import FieldDiff, as_text, doc_diff

ONLINE = {
    "id": "online_big",
    "name": "Online big",
    "description": "Online purchases above $100.",
    "enabled": True,
    "score": 0.8,
    "when": {"all": [{"field": "channel", "op": "eq", "value": "online"},
                     {"field": "amount_usd", "op": "gt", "value": 100, "as": "usd"}]},
    "explain": "online {usd}",
}  # fmt: skip


def _doc() -> dict[str, Any]:
    return put_rule(to_document(default_rules()), -1, ONLINE)


def test_a_rule_built_from_the_form_is_a_valid_document_rule() -> None:
    doc = to_document(default_rules())
    comb, rows = condition_to_rows(ONLINE["when"])
    meta = {k: ONLINE[k] for k in ("id", "name", "description", "enabled", "score", "explain")}
    rule = form_rule({}, meta, comb, rows)
    new = put_rule(doc, -1, rule)
    cfg = parse_document(new)
    assert [c.id for c in cfg.custom] == ["online_big"]
    assert check_rule(new, index_of(new, "online_big"), parse_document, None).ok


def test_a_bad_value_is_reported_on_its_row_and_part() -> None:
    doc = _doc()
    i = index_of(doc, "online_big")
    bad = copy.deepcopy(rules_of(doc)[i])
    bad["when"]["all"][1]["value"] = "lots"
    problems = check_rule(put_rule(doc, i, bad), i, parse_document, None)
    assert problems.rows == {1: ("value", 'expected a number for amount_usd, got "lots"')}
    assert not problems.meta and not problems.other


def test_meta_problems_land_beside_their_field() -> None:
    doc = _doc()
    i = index_of(doc, "online_big")
    problems = check_rule(put_rule(doc, i, {**ONLINE, "explain": "x {nope}"}), i, parse_document, None)
    assert set(problems.meta) == {"explain"} and "nope" in problems.meta["explain"]
    problems = check_rule(put_rule(doc, i, {**ONLINE, "when": {"all": []}}), i, parse_document, None)
    assert set(problems.meta) == {"when"}


def test_an_unknown_list_is_named_on_the_list_row() -> None:
    doc = _doc()
    i = index_of(doc, "online_big")
    listed = {
        **ONLINE,
        "when": {"all": [{"field": "card_id", "op": "in_list", "list": "no_such"}]},
        "explain": "x",
    }
    problems = check_rule(put_rule(doc, i, listed), i, parse_document, ["deny_cards"])
    assert list(problems.rows) == [0] and problems.rows[0][0] == "list"


def test_builtins_are_disabled_never_deleted_and_not_duplicated() -> None:
    doc = _doc()
    assert len(rules_of(delete(doc, "velocity"))) == len(rules_of(doc))
    off = toggle(doc, "velocity")
    assert rules_of(off)[index_of(off, "velocity")]["enabled"] is False
    assert parse_document(off).velocity.enabled is False
    assert duplicate(doc, "velocity") is None
    assert index_of(delete(doc, "online_big"), "online_big") == -1


def test_duplicate_gets_a_fresh_id_and_the_draft_lists_its_changes() -> None:
    doc = _doc()
    copy1 = duplicate(doc, "online_big")
    assert copy1 is not None and copy1["id"] == "online_big_copy"
    doc2 = put_rule(doc, -1, copy1)
    copy2 = duplicate(doc2, "online_big")
    assert copy2 is not None and copy2["id"] == "online_big_copy_2"
    parse_document(put_rule(doc2, -1, copy2))
    live = to_document(default_rules())
    assert changes(live, doc2) == ["added online_big", "added online_big_copy"]
    assert changes(doc2, toggle(delete(doc2, "online_big_copy"), "velocity")) == [
        "removed online_big_copy",
        "changed velocity (enabled)",
    ]


def test_a_builtin_keeps_its_params_when_its_form_is_applied() -> None:
    doc = _doc()
    i = index_of(doc, "velocity")
    base = rules_of(doc)[i]
    meta = {"id": "hacked", "name": "V", "description": "d", "enabled": False, "score": 0.5, "explain": "x"}
    rule = form_rule(base, meta, "all", [])
    assert rule["id"] == "velocity" and rule["params"] == base["params"] and "when" not in rule
    assert parse_document(put_rule(doc, i, rule)).velocity.weight == 0.5


def test_versions_diff_rule_by_rule_and_field_by_field() -> None:
    old = to_document(default_rules())
    new = toggle(_doc(), "velocity")
    new["alerting"] = {**new["alerting"], "min_score": 0.6}
    diffs = doc_diff(old, new)
    assert FieldDiff("velocity", "enabled", True, False) in diffs
    assert FieldDiff("online_big", "(added)", None, ONLINE) in diffs
    assert FieldDiff("alerting", "min_score", old["alerting"]["min_score"], 0.6) in diffs
    assert FieldDiff("online_big", "(removed)", ONLINE, None) in doc_diff(new, old)
    assert doc_diff(old, old) == []
    assert "online_big" in as_text(new) and '"online_big"' in as_text(new, "JSON")


def test_a_list_page_never_holds_more_than_a_page() -> None:
    rows = [(f"C-{i:06d}", None) for i in range(100_000)]
    shown, page, total = page_of(rows, 3)
    assert len(shown) == PAGE_ENTRIES and page == 3 and total == 100_000
    assert shown[0][0] == f"C-{3 * PAGE_ENTRIES:06d}"
    shown, page, total = page_of(rows, 10**9)  # past the end: the last page
    assert page == (100_000 - 1) // PAGE_ENTRIES and len(shown) == 100_000 - page * PAGE_ENTRIES
    shown, page, total = page_of(rows, 0, "c-00001")
    assert total == 10 and [v for v, _ in shown][:2] == ["C-000010", "C-000011"]


def test_suppressions_are_added_and_removed_in_the_draft_and_validated() -> None:
    from dashapp.views import rule_builder_supp as supp

    doc = _doc()
    assert supp.rules_text(" online_big, velocity ") == ["online_big", "velocity"]
    assert supp.rules_text("") == ["*"] and supp.rules_text("velocity *") == ["*"]
    one = supp.add(doc, "snoozed_cards", "card_id", "*")
    two = supp.add(one, "trusted_merchants", "merchant_id", "online_big")
    assert supp.suppressions_of(two) == [
        {"list": "snoozed_cards", "field": "card_id", "rules": ["*"]},
        {"list": "trusted_merchants", "field": "merchant_id", "rules": ["online_big"]},
    ]
    cfg = parse_document(two, ["snoozed_cards", "trusted_merchants"])
    assert [s.list_ for s in cfg.suppressions] == ["snoozed_cards", "trusted_merchants"]
    assert supp.suppressions_of(supp.remove(two, 0)) == supp.suppressions_of(two)[1:]
    assert supp.remove(two, "x") == two and supp.suppressions_of(doc) == []
    with pytest.raises(RuleValidationError) as bad:
        parse_document(supp.add(doc, "snoozed_cards", "card_id", "no_such_rule"), ["snoozed_cards"])
    assert bad.value.path.startswith("suppressions[0]")
