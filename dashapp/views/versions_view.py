"""The Versions tab: every published rule set, one viewed, two diffed rule by rule, a restore."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import yaml
from dash import dcc, html

from dashapp.views.rule_quality_view import quality_panel

VIEW = "ver-view"  # {"type": VIEW, "n": version}
MAX_CELL = 300  # characters of one old/new value shown in the diff


class FieldDiff(NamedTuple):
    """One difference between two documents: which rule (or section), which field, before, after."""

    rule: str
    field: str
    old: Any
    new: Any


def as_text(obj: Any, fmt: str = "YAML") -> str:
    """A document or rule as the raw views show it (YAML in document order, or indented JSON)."""
    if fmt == "JSON":
        return json.dumps(obj, indent=2, ensure_ascii=False)
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, width=100)


def _rules(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    rules = doc.get("rules")
    items = rules if isinstance(rules, list) else []
    return {str(r.get("id")): r for r in items if isinstance(r, Mapping)}


def _fields(rule: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldDiff]:
    keys = list(dict.fromkeys([*old, *new]))
    return [FieldDiff(rule, k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def doc_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldDiff]:
    """Rule by rule (added, removed, each changed field), then the other sections field by field."""
    before, after = _rules(old), _rules(new)
    out: list[FieldDiff] = []
    for rid, rule in after.items():
        if rid not in before:
            out.append(FieldDiff(rid, "(added)", None, rule))
        else:
            out += _fields(rid, before[rid], rule)
    out += [FieldDiff(rid, "(removed)", rule, None) for rid, rule in before.items() if rid not in after]
    for section in dict.fromkeys([*old, *new]):
        if section == "rules":
            continue
        a, b = old.get(section), new.get(section)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _fields(section, a, b)
        elif a != b:
            out.append(FieldDiff(section, "", a, b))
    return out


def _cell(value: Any) -> Any:
    if value is None:
        return html.Span("\u2013", className="muted")
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=False)
    return html.Code(text if len(text) <= MAX_CELL else text[:MAX_CELL] + "\u2026")


def diff_table(diffs: Sequence[FieldDiff], a: int, b: int) -> list[Any]:
    """The differences from version a to version b."""
    if not diffs:
        return [html.P(f"Versions {a} and {b} are the same.", className="muted")]
    head = ("rule / section", "field", f"version {a}", f"version {b}")
    body = [
        html.Tr([html.Td(d.rule), html.Td(d.field), html.Td(_cell(d.old)), html.Td(_cell(d.new))])
        for d in diffs
    ]
    return [
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
            className="table",
            id="ver-diff-table",
        )
    ]


def versions_table(records: Sequence[Any], live: int) -> list[Any]:
    """Newest first: version, author, time (UTC), comment, and a View button."""
    if not records:
        return [html.P("No versions yet.", className="muted")]
    body = []
    for r in records:
        note = f" (restore of {r.restored_from})" if getattr(r, "restored_from", None) else ""
        body.append(
            html.Tr(
                [
                    html.Td(f"{r.version}" + (" (live)" if r.version == live else "")),
                    html.Td(r.author),
                    html.Td(str(r.at)[:19].replace("T", " ")),
                    html.Td(f"{r.comment}{note}"),
                    html.Td(
                        html.Button(
                            "View",
                            id={"type": VIEW, "n": r.version},
                            n_clicks=0,
                            className="btn btn-ghost btn-small",
                            title=f"View version {r.version}",
                        )
                    ),
                ],
                className="ver-row",
            )
        )
    head = ("version", "author", "time (UTC)", "comment", "")
    return [
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
            className="table",
            id="ver-table",
        )
    ]


def version_options(records: Sequence[Any]) -> list[dict[str, Any]]:
    """Dropdown options for the diff pickers."""
    return [
        {"label": f"{r.version} \u2013 {r.author}: {str(r.comment)[:40]}", "value": r.version}
        for r in records
    ]


def _picker(elem_id: str, label: str) -> html.Label:
    return html.Label(
        [
            html.Span(label, className="rb-label"),
            dcc.Dropdown(id=elem_id, options=[], value=None, clearable=False, className="rb-select"),
        ],
        className="rb-part",
    )


def versions_panel(admin: bool) -> html.Div:
    """The tab's markup (callbacks: dashapp/callbacks/versions_cb.py); restore hidden for analysts."""
    restore = html.Div(
        [
            html.Label(
                [
                    html.Span("Comment for the restore (required)", className="rb-label"),
                    dcc.Input(id="ver-comment", type="text", value="", maxLength=500, className="rb-text"),
                ],
                className="rb-part",
            ),
            html.Button("Restore this version", id="ver-restore", n_clicks=0, className="btn btn-small"),
        ],
        className="rb-inline" + ("" if admin else " hidden"),
    )
    return html.Div(
        [
            quality_panel(),  # how analysts judged each rule's alerts: read beside its versions
            html.H4("Versions"),
            html.Div(id="ver-list"),
            html.H4("Compare two versions"),
            html.Div(
                [
                    _picker("ver-from", "From version"),
                    _picker("ver-to", "To version"),
                    html.Button(
                        "Show differences", id="ver-diff", n_clicks=0, className="btn btn-ghost btn-small"
                    ),
                ],
                className="rb-inline",
            ),
            html.Div(id="ver-diff-out"),
            html.H4(id="ver-view-title", children="Version"),
            html.Pre(id="ver-view-out", className="rb-code ver-doc"),
            restore,
            html.Div(id="ver-message", className="message", role="status"),
            dcc.Store(id="ver-viewing", storage_type="memory"),
        ]
    )
