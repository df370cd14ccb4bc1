"""The rule open in the builder's form: where it sits in the draft, its base, and the form <-> rule."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

from common.rulelang import load_text
from common.rules import RuleValidationError
from dashapp.views.rule_builder_doc import (
    Problems,
    Validate,
    check_rule,
    duplicate,
    form_rule,
    index_of,
    put_rule,
    rules_of,
)
from dashapp.views.rule_builder_form import DEL_ROW, PART_LABELS, input_class, meta_class, rule_from_meta
from dashapp.views.rule_builder_rows import KINDS, NotAForm, Row, blank_row, condition_to_rows, row_to_leaf


def meta_of(ids: list[Any], values: list[Any]) -> dict[str, Any]:
    """The meta inputs' values by field name."""
    return {str(i.get("field")): v for i, v in zip(ids, values, strict=False) if isinstance(i, Mapping)}


class Editor:
    """What the form shows (`editing` in the browser): the rule's place in the draft and its base."""

    def __init__(self, data: Any) -> None:
        data = data if isinstance(data, dict) else {}
        self.index = data.get("index", -1) if isinstance(data.get("index"), int) else -1
        self.base: dict[str, Any] = data["base"] if isinstance(data.get("base"), dict) else {}
        self.raw_only = bool(data.get("raw_only"))
        self.open = bool(data.get("open"))

    def rule(self, meta: Mapping[str, Any], comb: Any, rows: list[Row]) -> dict[str, Any]:
        """The rule as the form now says (a condition the form cannot show stays as in the raw text)."""
        rule = form_rule(self.base, rule_from_meta(meta), str(comb or "all"), rows)
        if self.raw_only and "when" in self.base:
            rule["when"] = self.base["when"]
        return rule

    def placed(self, draft: Mapping[str, Any], rule: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """The draft with the rule in place, and its index there."""
        doc = put_rule(draft, self.index, rule)
        return doc, (self.index if 0 <= self.index < len(rules_of(draft)) else len(rules_of(doc)) - 1)


def opened(rule: Mapping[str, Any], index: int) -> tuple[dict[str, Any], str, list[Row], str]:
    """(editing data, combinator, rows, note) for a rule opened in the form."""
    note, comb, raw_only = "", "all", False
    rows: list[Row] = []
    if rule.get("builtin"):
        note = "A built-in rule: its parameters are edited in the parameter editor or the raw view."
    else:
        try:
            comb, rows = condition_to_rows(rule.get("when"))
        except NotAForm as exc:
            note = f"The form cannot show this condition ({exc}): edit it in the raw view."
            raw_only = True
    return {"index": index, "base": dict(rule), "raw_only": raw_only, "open": True}, comb, rows, note


NEW_RULE = {"name": "", "description": "", "enabled": True, "score": 0.5, "explain": ""}


class Opened(NamedTuple):
    """What the form shows after a structural action (None: leave that part as it is)."""

    editing: dict[str, Any] | None
    comb: str | None
    rows: list[Row] | None
    meta: dict[str, Any] | None
    note: str | None
    raw_msg: str


def new_id(draft: Mapping[str, Any]) -> str:
    """`rule_1`, `rule_2`, ...: the first id the draft does not use."""
    taken = {r.get("id") for r in rules_of(draft)}
    return next(f"rule_{n}" for n in range(1, len(taken) + 2) if f"rule_{n}" not in taken)


def _open(rule: Mapping[str, Any], index: int) -> Opened:
    editing, comb, rows, note = opened(rule, index)
    return Opened(editing, comb, rows, dict(rule), note, "")


def _from_raw(raw: Any, editor: Editor) -> Opened:
    try:
        obj = load_text(str(raw or ""))
    except RuleValidationError as exc:
        return Opened(None, None, None, None, None, f"Not applied: {exc}")
    if not isinstance(obj, dict):
        return Opened(None, None, None, None, None, "Not applied: the text must be one rule (an object).")
    if editor.base.get("builtin") and obj.get("builtin") != editor.base.get("builtin"):
        return Opened(None, None, None, None, None, "Not applied: a built-in rule stays that built-in.")
    done = _open(obj, editor.index)
    return done._replace(raw_msg="Applied to the form.")


def _new(draft: Mapping[str, Any], _rid: str) -> Opened:
    first = blank_row("field")
    rule = {"id": new_id(draft), **NEW_RULE, "when": {"all": [row_to_leaf(first)]}}
    return _open(rule, -1)._replace(rows=[first])


def _edit(draft: Mapping[str, Any], rid: str) -> Opened | None:
    i = index_of(draft, rid)
    return _open(rules_of(draft)[i], i) if i >= 0 else None


def _dup(draft: Mapping[str, Any], rid: str) -> Opened | None:
    copy = duplicate(draft, rid)
    return _open(copy, -1) if copy is not None else None


def structure(trigger: Any, draft: Mapping[str, Any], editor: Editor, rows: list[Row], raw: Any) -> Opened:
    """The form after New, Edit/View, Duplicate, an added or removed row, or Apply text."""
    kind = trigger.get("type") if isinstance(trigger, Mapping) else trigger
    rid = str(trigger.get("rule")) if isinstance(trigger, Mapping) else ""
    keep = Opened(None, None, None, None, None, "")
    opens = {"rb-new": _new, "rb-edit": _edit, "rb-dup": _dup}
    if kind in opens:
        return opens[kind](draft, rid) or keep
    if isinstance(kind, str) and kind.startswith("rb-add-") and kind[7:] in KINDS:
        return keep._replace(rows=[*rows, blank_row(kind[7:])])
    if kind == DEL_ROW and isinstance(trigger, Mapping):
        n = trigger.get("row")
        return keep._replace(rows=[r for i, r in enumerate(rows) if i != n])
    if kind == "rb-raw-apply":
        return _from_raw(raw, editor)
    return keep


def checked(
    draft: Mapping[str, Any],
    editor: Editor,
    form: tuple[Mapping[str, Any], Any, list[Row]],
    validate: Validate,
    known_lists: Collection[str] | None,
) -> tuple[dict[str, Any], dict[str, Any], Problems]:
    """(the rule the form says, the draft with it in place, where its problems are)."""
    meta, comb, rows = form
    rule = editor.rule(meta, comb, rows)
    doc, index = editor.placed(draft, rule)
    return rule, doc, check_rule(doc, index, validate, known_lists)


def input_classes(problems: Problems, ids: Sequence[Mapping[str, Any]]) -> list[str]:
    """The class of each row input (ids in the page's order), the one at fault marked."""
    out = []
    for i in ids:
        row, part, kind = i.get("row"), str(i.get("part")), str(i.get("kind"))
        fault = problems.rows.get(row) if isinstance(row, int) else None
        out.append(input_class(kind, part, fault is not None and fault[0] == part))
    return out


def meta_classes(problems: Problems, fields: Sequence[str]) -> list[str]:
    """The class of each of the rule's own inputs, the one at fault marked."""
    return [meta_class(f, f in problems.meta) for f in fields]


def row_messages(problems: Problems, n_rows: int) -> list[str]:
    """One message per row ("" for a good row), naming the part as the form labels it."""
    out = [""] * n_rows
    for n, (part, text) in problems.rows.items():
        if 0 <= n < n_rows:
            out[n] = f"{PART_LABELS.get(part, 'Condition')}: {text}" if part else text
    return out
