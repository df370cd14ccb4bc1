"""Rule editor generated from common.rules.RULE_SPECS: form, form values, changes, audit trail."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from common.rules import RULE_SPECS, FieldSpec, rules_to_dict
from common.rules_doc import RulesDoc

FIELD_TYPE = "rule-field"
RULE_LABELS: dict[str, str] = {name: spec.label for name, spec in RULE_SPECS.items()}
# thousands grouped by commas, spaces or underscores ("2,000,000"); any other comma is refused, not guessed
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:[, _]\d{3})+(?:\.\d*)?")


def field_id(rule: str, field: str) -> dict[str, str]:
    """Pattern-matching id of one editor input."""
    return {"type": FIELD_TYPE, "rule": rule, "field": field}


def _num(x: float) -> str:
    """A bound as people read it: 1,000,000 rather than 1e+06; fractions as they are (0.01)."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _bounds(f: FieldSpec) -> str:
    return f"{_num(f.min)}\u2013{_num(f.max)}" if f.min is not None and f.max is not None else ""


def _input(rule: str, f: FieldSpec, editable: bool) -> Any:
    fid = field_id(rule, f.name)
    if f.type == "str_list":
        return dcc.Textarea(
            id=fid, value="", disabled=not editable, rows=2, className="rule-text", placeholder="one per line"
        )
    # Text, not type=number: a number input hands Dash nothing for "2,000,000" and keeps the old value
    # for an out-of-range "-5" (Save then said "expected a number, got None" or "Nothing changed.");
    # the server parses what was typed and says what is wrong with it (check_form).
    return dcc.Input(id=fid, type="text", disabled=not editable, className="rule-number")


def _row(rule: str, f: FieldSpec, editable: bool) -> html.Div:
    """One field: its label wraps the input, so the input is named by it (WCAG 1.3.1, 4.1.2)."""
    if f.type == "bool":
        # the checkbox's own label is the field's name (it announced "on")
        box = dcc.Checklist(
            id=field_id(rule, f.name),
            options=[
                {
                    "label": html.Span(f.label, title=f.description, className="rule-label"),
                    "value": "on",
                    "disabled": not editable,
                }
            ],
            value=[],
            className="rule-check",
        )
        return html.Div(box, className="rule-row rule-row-check")
    return html.Div(
        className="rule-row",
        children=[
            html.Label(
                [html.Span(f.label, className="rule-label"), _input(rule, f, editable)],
                title=f.description,
                className="rule-field",
            ),
            html.Span(_bounds(f), className="rule-range"),
        ],
    )


def rules_form(editable: bool) -> list[Any]:
    """One fieldset per rule with every field of its spec (no values: they load by callback)."""
    sets = []
    for name, spec in RULE_SPECS.items():
        rows = [_row(name, f, editable) for f in spec.fields]
        sets.append(
            html.Fieldset(
                [html.Legend(spec.label, title=spec.description), *rows],
                className="rule-set",
                id=f"rule-set-{name}",
            )
        )
    return sets


def form_values(doc: RulesDoc, ids: Sequence[Mapping[str, str]]) -> list[Any]:
    """Values for the inputs `ids` (in their order) from the live rules document (None if unknown)."""
    current = rules_to_dict(doc.rules)
    out: list[Any] = []
    for i in ids:
        rule, field = (i.get("rule"), i.get("field")) if isinstance(i, Mapping) else (None, None)
        spec = _spec(str(rule), str(field))
        value = current.get(str(rule), {}).get(str(field))
        if spec is None:
            out.append(None)
        elif spec.type == "bool":
            out.append(["on"] if value else [])
        elif spec.type == "str_list":
            out.append("\n".join(value or ()))
        else:
            out.append(value)
    return out


def _spec(rule: str, field: str) -> FieldSpec | None:
    spec = RULE_SPECS.get(rule)
    return next((f for f in spec.fields if f.name == field), None) if spec else None


def parse_number(raw: Any) -> Any:
    """A number as people type it ("2,000,000", "\u22125", " 0.7 "): int or float, None when empty.

    Anything else comes back as it came, for check_form (or the store's validation) to refuse.
    """
    if not isinstance(raw, str):
        return raw
    text = raw.strip().replace("\u2212", "-").replace("\u00a0", " ").replace("\u202f", " ")
    if not text:
        return None
    if any(c in text for c in ", _"):
        if not _GROUPED.fullmatch(text):
            return raw
        text = re.sub(r"[, _]", "", text)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return raw


def _problem(f: FieldSpec, raw: Any) -> str | None:
    value = parse_number(raw)
    if value is None:
        return "is empty"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"{str(raw).strip()[:40]!r} is not a number"
    lo = _num(f.min) if f.min is not None else ""
    hi = _num(f.max) if f.max is not None else ""
    checks = (
        (f.type == "int" and not float(value).is_integer(), f"{_num(value)} is not a whole number"),
        (f.min is not None and value < f.min, f"{_num(value)} is below the minimum {lo}"),
        (f.max is not None and value > f.max, f"{_num(value)} is above the maximum {hi}"),
    )
    return next((text for failed, text in checks if failed), None)


def check_form(ids: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> list[str]:
    """What is wrong with the typed numbers, one sentence each, named as the form shows them."""
    out = []
    for i, raw in zip(ids, values, strict=False):
        rule, field = str(i.get("rule")), str(i.get("field"))
        spec = _spec(rule, field)
        if spec is not None and spec.type in ("int", "float"):
            problem = _problem(spec, raw)
            if problem:
                out.append(f"{RULE_LABELS[rule]} \u2013 {spec.label}: {problem}")
    return out


def changes_from_form(ids: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Turn form values back into a {rule: {field: value}} change set (validated by RulesStore).

    Ids and values come from the browser: unknown names are passed through for the server-side
    validation to reject, and missing numbers stay None so validation names the field.
    """
    changes: dict[str, dict[str, Any]] = {}
    for i, raw in zip(ids, values, strict=False):
        rule, field = str(i.get("rule")), str(i.get("field"))
        spec = _spec(rule, field)
        kind = spec.type if spec else None
        value: Any = raw
        if kind == "bool":
            value = isinstance(raw, list) and "on" in raw
        elif kind == "str_list":
            text = raw if isinstance(raw, str) else ""
            value = [part.strip() for part in text.splitlines() if part.strip()]
        elif kind in ("int", "float"):
            value = parse_number(raw)
        changes.setdefault(rule, {})[field] = value
    return changes


def audit_view(entries: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The audit trail, newest first: who changed what from which value to which."""
    if not entries:
        return [html.P("No changes yet.", className="muted")]
    rows = []
    for e in entries:
        for c in e.get("changes", []) if isinstance(e.get("changes"), list) else []:
            if isinstance(c, Mapping):
                rows.append(
                    html.Tr(
                        [
                            html.Td(str(e.get("when", ""))[:19].replace("T", " ")),
                            html.Td(str(e.get("who", ""))),
                            html.Td(str(e.get("version", ""))),
                            html.Td(f"{c.get('rule')}.{c.get('field')}"),
                            html.Td(str(c.get("old"))),
                            html.Td(str(c.get("new"))),
                        ]
                    )
                )
    head = html.Thead(html.Tr([html.Th(h) for h in ("when (UTC)", "who", "version", "field", "old", "new")]))
    return [html.Table([head, html.Tbody(rows)], className="table", id="rules-audit-table")]
