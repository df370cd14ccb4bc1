"""Rule builder form actions (new, edit, duplicate, rows, raw text) and the explanation preview; no I/O."""

from __future__ import annotations

from typing import Any

from common.rulelang import parse_document, to_document
from common.rules import default_rules
from dashapp.store.models import TxnRow
from dashapp.views.rule_builder_doc import index_of, put_rule
from dashapp.views.rule_builder_editor import (
    Editor,
    checked,
    input_classes,
    meta_classes,
    new_id,
    row_messages,
    structure,
)
from dashapp.views.rule_builder_preview import BUILTIN_SAMPLE, explanation, sample_from_row
from dashapp.views.rule_builder_rows import blank_row
from dashapp.views.versions_view import as_text

RULE: dict[str, Any] = {
    "id": "online_big",
    "name": "Online big",
    "description": "",
    "enabled": True,
    "score": 0.8,
    "when": {"all": [
        {"field": "channel", "op": "eq", "value": "online"},
        {"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 3, "as": "countries"},
        {"field": "amount_usd", "op": "gt", "value": 1500, "as": "usd"},
    ]},
    "explain": "online {merchant_category} {usd}; {countries} countries in 24 h (limit 3)",
}  # fmt: skip


def _draft() -> dict[str, Any]:
    return put_rule(to_document(default_rules()), -1, RULE)


def _meta(rule: dict[str, Any]) -> dict[str, Any]:
    return {**{k: rule[k] for k in ("id", "name", "description", "explain")}, "score": str(rule["score"])}


def test_new_opens_a_fresh_id_with_one_row_and_edit_opens_the_rule_in_place() -> None:
    draft = _draft()
    new = structure("rb-new", draft, Editor(None), [], "")
    assert new.editing is not None and new.editing["index"] == -1
    assert new.meta is not None and new.meta["id"] == new_id(draft) == "rule_1"
    assert new.rows == [blank_row("field")]
    edit = structure({"type": "rb-edit", "rule": "online_big"}, draft, Editor(None), [], "")
    assert edit.editing is not None and edit.editing["index"] == index_of(draft, "online_big")
    assert edit.rows is not None and [r["kind"] for r in edit.rows] == ["field", "agg", "field"]
    missing = structure({"type": "rb-edit", "rule": "nope"}, draft, Editor(None), [], "")
    assert missing.editing is None and missing.rows is None


def test_rows_are_added_and_removed_without_touching_the_rest() -> None:
    rows = [blank_row("field"), blank_row("agg")]
    added = structure("rb-add-list", _draft(), Editor({"open": True}), rows, "")
    assert added.rows == [*rows, blank_row("list")] and added.meta is None and added.editing is None
    removed = structure({"type": "rb-del-row", "row": 0}, _draft(), Editor({"open": True}), rows, "")
    assert removed.rows == [blank_row("agg")]
    assert structure("rb-add-evil", _draft(), Editor({"open": True}), rows, "").rows is None


def test_raw_text_updates_the_form_or_says_why_not() -> None:
    draft = _draft()
    editor = Editor({"index": -1, "base": {}, "open": True})
    done = structure("rb-raw-apply", draft, editor, [], as_text(RULE))
    assert (
        done.raw_msg == "Applied to the form." and done.meta is not None and done.meta["id"] == "online_big"
    )
    assert done.rows is not None and len(done.rows) == 3
    bad = structure("rb-raw-apply", draft, editor, [], "id: [unclosed")
    assert bad.raw_msg.startswith("Not applied:") and bad.rows is None
    nested = {**RULE, "when": {"any": [{"all": [{"field": "channel", "op": "eq", "value": "online"}]}]}}
    raw_only = structure("rb-raw-apply", draft, editor, [], as_text(nested, "JSON"))
    assert raw_only.editing is not None and raw_only.editing["raw_only"] is True
    assert raw_only.note is not None and "raw view" in raw_only.note
    # the form keeps the nested condition as the raw text gave it
    rule = Editor(raw_only.editing).rule(_meta(nested), "all", [])
    assert rule["when"] == nested["when"]


def test_the_form_rule_is_checked_in_its_document_and_messages_name_the_part() -> None:
    editor = Editor({"index": -1, "base": {}, "open": True})
    rows = [{**blank_row("field"), "field": "amount_usd", "op": "gt", "value": "lots", "as": "usd"}]
    rule, doc, problems = checked(_draft(), editor, (_meta(RULE), "all", rows), parse_document, None)
    assert rule["when"] == {"all": [{"field": "amount_usd", "op": "gt", "value": "lots", "as": "usd"}]}
    assert doc["rules"][-1]["id"] == "online_big"  # appended: a second online_big
    assert list(problems.rows) == [0] and not problems.meta
    ok_rows = [{**rows[0], "value": "1,500"}]
    same_id = {**_meta(RULE), "explain": "{usd}"}
    _, _, twice = checked(_draft(), editor, (same_id, "all", ok_rows), parse_document, None)
    assert set(twice.meta) == {"id"} and "online_big" in twice.meta["id"]
    meta = {**_meta(RULE), "id": "online_huge", "explain": "{usd}"}
    _, _, fine = checked(_draft(), editor, (meta, "all", ok_rows), parse_document, None)
    assert fine.ok, fine
    _, _, bad = checked(_draft(), editor, ({**meta}, "all", rows), parse_document, None)
    assert row_messages(bad, 1) == ['Value: expected a number for amount_usd, got "lots"']


def test_preview_renders_the_explanation_with_the_languages_formatter() -> None:
    text = explanation(RULE, BUILTIN_SAMPLE, {})
    assert text == "online electronics $1,890.00; 3 countries in 24 h (limit 3)"
    row = TxnRow(txn_id="t1", ts="2026-02-01T10:00:00.000Z", amount=10.0, card_id="C1", account_id="A1",
                 currency="EUR", merchant_id="M1", merchant_category="grocery", city="Lyon", country="FR",
                 channel="online")  # fmt: skip
    event = sample_from_row(row)
    assert event is not None and event.currency == "EUR"
    assert explanation(RULE, event, {"EUR": 1.1}) == "online grocery $11.00; 3 countries in 24 h (limit 3)"
    assert sample_from_row(TxnRow(txn_id="t2", ts="not a time", amount=1.0)) is None


def test_the_input_at_fault_is_marked_and_only_it() -> None:
    editor = Editor({"index": -1, "base": {}, "open": True})
    rows = [{**blank_row("field"), "value": "1"}, {**blank_row("field"), "value": "lots"}]
    meta = {**_meta(RULE), "id": "online_huge", "explain": "x"}
    _, _, problems = checked(_draft(), editor, (meta, "all", rows), parse_document, None)
    ids = [{"row": n, "part": p, "kind": "field"} for n in (0, 1) for p in ("field", "value")]
    assert input_classes(problems, ids) == ["rb-select", "rb-text", "rb-select", "rb-text rb-invalid"]
    assert meta_classes(problems, ["id", "explain"]) == ["rb-text", "rb-textarea"]
    _, _, named = checked(
        _draft(), editor, ({**meta, "explain": "{nope}"}, "all", rows[:1]), parse_document, None
    )
    assert meta_classes(named, ["id", "explain"]) == ["rb-text", "rb-textarea rb-invalid"]


def _walk(node: Any, parents: tuple[Any, ...] = ()) -> Any:
    yield node, parents
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child, (*parents, node))


def test_every_builder_input_is_named_by_a_label_and_no_control_nests_another() -> None:
    from dash import dcc, html

    from dashapp.layout_panels import rules_section
    from dashapp.views.rule_builder_form import rows_component

    rows = [blank_row(k) for k in ("field", "agg", "feature", "list")]
    for admin in (True, False):
        trees = [rules_section(admin), html.Div(rows_component(rows, admin, ["deny_cards"]))]
        controls = 0
        for tree in trees:
            for node, parents in _walk(tree):
                if isinstance(node, dcc.Input | dcc.Dropdown | dcc.Textarea | dcc.Upload):
                    ident = getattr(node, "id", None)
                    if getattr(node, "type", None) == "hidden":
                        continue  # the logout form's CSRF token
                    controls += 1
                    labels = [p for p in parents if isinstance(p, html.Label)]
                    assert labels, f"{ident} has no label"
                    text = "".join(
                        n.children
                        for n, _ in _walk(labels[-1])
                        if isinstance(getattr(n, "children", None), str)
                    )
                    assert text.strip(), f"{ident}: empty label"
                if isinstance(node, html.Button):
                    nested = [p for p in parents if isinstance(p, html.Button | html.Label)]
                    assert not nested, getattr(node, "id", None)
        assert controls > 40
