"""The rule builder's rule list: the draft's rules with their state and actions, and the draft summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from dashapp.views.rule_builder_doc import changes, is_builtin, rules_of

ACTIONS = ("edit", "dup", "toggle", "delete")  # rule list buttons: {"type": "rb-<action>", "rule": id}
ACTION_LABELS = {"edit": "Edit", "dup": "Duplicate", "toggle": "Disable", "delete": "Delete"}
VIEW_LABEL = "View"


def action_id(action: str, rule_id: str) -> dict[str, str]:
    """Pattern-matching id of a rule list button."""
    return {"type": f"rb-{action}", "rule": rule_id}


def _status(rule: Mapping[str, Any], live: Mapping[str, Mapping[str, Any]]) -> str:
    old = live.get(str(rule.get("id")))
    if old is None:
        return "new"
    return "changed" if old != rule else ""


def _buttons(rule: Mapping[str, Any], admin: bool) -> list[Any]:
    rid = str(rule.get("id"))
    name = str(rule.get("name") or rid)
    if not admin:
        return [
            html.Button(
                VIEW_LABEL,
                id=action_id("edit", rid),
                n_clicks=0,
                className="btn btn-ghost btn-small",
                title=f"View {name}",
            )
        ]
    out = []
    for action in ACTIONS:
        if action in ("dup", "delete") and is_builtin(rule):
            continue  # a built-in is disabled, never deleted; its copy would be a built-in twice
        label = ACTION_LABELS[action]
        if action == "toggle" and rule.get("enabled") is False:
            label = "Enable"
        out.append(
            html.Button(
                label,
                id=action_id(action, rid),
                n_clicks=0,
                className="btn btn-ghost btn-small" + (" btn-danger" if action == "delete" else ""),
                title=f"{label} {name}",
            )
        )
    return out


def _score(rule: Mapping[str, Any]) -> str:
    score = rule.get("score")
    return f"{score:g}" if isinstance(score, int | float) and not isinstance(score, bool) else str(score)


def rules_table(draft: Mapping[str, Any], live: Mapping[str, Any], admin: bool) -> list[Any]:
    """The draft's rules: name, kind, enabled, score, description, draft status and actions."""
    rules = rules_of(draft)
    if not rules:
        return [html.P("No rules loaded.", className="muted")]
    live_rules = {str(r.get("id")): r for r in rules_of(live)}
    head = ("Rule", "Kind", "Enabled", "Score", "Description", "Draft", "")
    body = []
    for rule in rules:
        on = rule.get("enabled") is not False
        body.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Strong(str(rule.get("name") or "")),
                            html.Br(),
                            html.Code(str(rule.get("id")), className="rb-id"),
                        ]
                    ),
                    html.Td("built-in" if is_builtin(rule) else "custom"),
                    html.Td("yes" if on else "no", className="rb-on" if on else "rb-off"),
                    html.Td(_score(rule), className="num"),
                    html.Td(str(rule.get("description") or ""), className="rb-desc"),
                    html.Td(_status(rule, live_rules), className="rb-status"),
                    html.Td(html.Div(_buttons(rule, admin), className="rb-actions")),
                ],
                id=f"rb-rule-{rule.get('id')}",
                className="rb-rule" + ("" if on else " rb-disabled"),
            )
        )
    gone = [rid for rid in live_rules if rid not in {str(r.get("id")) for r in rules}]
    for rid in gone:
        body.append(
            html.Tr(
                [
                    html.Td(html.Del(rid)),
                    html.Td("custom"),
                    *[html.Td("") for _ in range(3)],
                    html.Td("deleted", className="rb-status"),
                    html.Td(""),
                ],
                className="rb-rule rb-gone",
            )
        )
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
        className="table",
        id="rb-rules-table",
    )
    return [table]


def draft_summary(draft: Mapping[str, Any], live: Mapping[str, Any]) -> list[Any]:
    """What the draft would publish, or that it matches the live version."""
    lines = changes(live, draft)
    if not lines:
        return [html.Span("The draft is the live rule set.", className="muted")]
    return [
        html.Span(f"Draft: {len(lines)} change{'s' if len(lines) != 1 else ''} \u2013 "),
        "; ".join(lines),
    ]
