"""Rule editor generated from common.rules.RULE_SPECS: form, form values, changes, audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from common.rules import RULE_SPECS, FieldSpec, rules_to_dict
from common.rules_doc import RulesDoc

FIELD_TYPE = "rule-field"
RULE_LABELS: dict[str, str] = {name: spec.label for name, spec in RULE_SPECS.items()}


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
    if f.type == "bool":
        return dcc.Checklist(
            id=fid,
            options=[{"label": " on", "value": "on", "disabled": not editable}],
            value=[],
            className="rule-check",
        )
    if f.type == "str_list":
        return dcc.Textarea(
            id=fid, value="", disabled=not editable, rows=2, className="rule-text", placeholder="one per line"
        )
    step: float | str = 1 if f.type == "int" else "any"
    return dcc.Input(
        id=fid,
        type="number",
        min=f.min,
        max=f.max,
        step=step,
        disabled=not editable,
        debounce=True,
        className="rule-number",
    )


def rules_form(editable: bool) -> list[Any]:
    """One fieldset per rule with every field of its spec (no values: they load by callback)."""
    sets = []
    for name, spec in RULE_SPECS.items():
        rows = [
            html.Div(
                className="rule-row",
                children=[
                    html.Label(f.label, title=f.description, className="rule-label"),
                    _input(name, f, editable),
                    html.Span(_bounds(f), className="rule-range"),
                ],
            )
            for f in spec.fields
        ]
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
