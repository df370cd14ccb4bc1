"""The rule builder's shadow panel: publish the draft as shadow, its per-rule comparison, promote / drop."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashapp.figures.base import esc

POLL_MS = 10_000  # each look reads the shadow document and its counters (two small reads)
ANY_RULE = "*"  # common.shadow_doc.ANY_RULE


def shadow_panel(admin: bool) -> html.Div:
    """Under the backtest panel; the buttons are admins' (every callback checks the role too)."""
    controls = html.Div(
        [
            html.Button("Publish as shadow", id="sh-publish", n_clicks=0, className="btn"),
            html.Button("Promote shadow to live", id="sh-promote", n_clicks=0, className="btn btn-ghost"),
            html.Button("Drop shadow", id="sh-drop", n_clicks=0, className="btn btn-ghost"),
        ],
        className="btn-row" if admin else "btn-row hidden",
    )
    return html.Div(
        id="sh-panel",
        className="rb-shadow",
        children=[
            html.H4("Shadow"),
            html.P(
                "Every live bridge evaluates the shadow set beside the live rules on live traffic; its "
                "alerts reach no banner, table or counter. The comment above goes with each action.",
                className="muted",
            ),
            controls,
            html.Div(id="sh-msg", className="message", role="status"),
            html.Div(id="sh-body", className="sh-body"),
            # precision and samples read the newest pairs: computed when asked, not on every poll
            html.Button(
                "Analyst precision and samples", id="sh-quality", n_clicks=0, className="btn btn-ghost"
            ),
            html.Div(id="sh-quality-body", className="sh-body"),
            dcc.Store(id="sh-id", storage_type="memory"),  # the shadow id shown: promote / drop check it
            dcc.Store(id="sh-refresh", storage_type="memory"),
            dcc.Interval(id="sh-poll", interval=POLL_MS),
        ],
    )


def _ratio(value: Any) -> str:
    return "\u2013" if value is None else f"{float(value):.2f}"


def _table(table_id: str, head: tuple[str, ...], rows: list[tuple[str, tuple[Any, ...]]]) -> html.Table:
    body = [html.Tr([html.Td(str(c)) for c in cells], **{"data-rule": rule}) for rule, cells in rows]  # type: ignore[arg-type]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h, scope="col") for h in head])), html.Tbody(body)],
        id=table_id,
        className="table bt-table",
    )


def _name(rule: str) -> str:
    return "all alerts" if rule == ANY_RULE else rule


def rules_table(report: dict[str, Any]) -> html.Table:
    """Per rule: alerts live vs shadow on the same events, overlap, added / removed, and each set's
    precision on the labelled events (all exact, counted by the bridges since the shadow started)."""
    head = ("rule", "live", "shadow", "overlap", "added", "removed", "precision live", "precision shadow")
    keys = ("live", "shadow", "overlap", "added", "removed")
    rows = [
        (
            r["rule"],
            (
                _name(r["rule"]),
                *(r[k] for k in keys),
                _ratio(r.get("live_precision")),
                _ratio(r.get("shadow_precision")),
            ),
        )
        for r in report.get("rules", [])
    ]
    return _table("sh-table", head, rows)


def quality_table(report: dict[str, Any]) -> html.Table:
    """Per rule over the alerting events read: analysts' precision from their dispositions, live vs
    shadow (ground-truth precision is exact in the rules table above, so not repeated here)."""
    head = ("rule", "alerts live", "alerts shadow", "analyst precision live", "analyst precision shadow")
    rows = []
    for r in report.get("rules", []):
        lq, sq = r["live_quality"], r["shadow_quality"]
        if not (lq["alerts"] or sq["alerts"]):
            continue
        precision = (lq["analyst_precision"], sq["analyst_precision"])
        cells = (_name(r["rule"]), lq["alerts"], sq["alerts"], *map(_ratio, precision))
        rows.append((r["rule"], cells))
    return _table("sh-quality-table", head, rows)


def samples_list(report: dict[str, Any]) -> html.Div:
    """Shadow-only alerts (what promoting would add) and live-only ones (what it would remove)."""
    parts: list[Any] = []
    titles = (("shadow_only", "Only the shadow set alerts"), ("live_only", "Only the live set alerts"))
    for change, title in titles:
        items = [
            html.Li(
                f"{s['ts']} card {esc(s['card_id'])} {s['amount']:,.2f} {s['currency']} "
                f"(score {s['score']:.2f}): " + "; ".join(s["reasons"])
            )
            for s in report.get(change, [])
        ]
        parts += [html.H5(f"{title} ({len(items)} shown)"), html.Ul(items or [html.Li("none")])]
    return html.Div(parts, id="sh-samples", className="bt-samples")


def shadow_body(report: dict[str, Any] | None) -> list[Any]:
    """The panel's content: nothing published yet, or the shadow set's header and per-rule counts."""
    if report is None:
        return [html.P("No shadow set. Edit a draft, then Publish as shadow.", className="muted")]
    s = report["shadow"]
    head = html.P(
        f"Shadow {s['id']} by {esc(s['by'])} at {s['at']} (published against live v{s['base_version']})"
        f"{': ' + esc(s['comment']) if s.get('comment') else ''} — {report['events']:,} events evaluated.",
        id="sh-head",
        className="muted",
    )
    warnings = [html.Li(w) for w in report.get("warnings", [])]
    if not warnings:
        return [head, rules_table(report)]
    note = html.Div(
        [html.P("Evaluated on the live rules' card state, so until promoted it sees no:"), html.Ul(warnings)],
        id="sh-warnings",
        className="message warn",
    )
    return [head, note, rules_table(report)]


def quality_body(report: dict[str, Any] | None) -> list[Any]:
    """Analysts' precision and the samples, over the newest alerting events read."""
    if report is None:
        return []
    note = html.P(
        f"Shadow {report['shadow']['id']}: over the newest {report['pairs_read']:,} events "
        "either set alerted on.",
        className="muted",
    )
    return [note, quality_table(report), samples_list(report)]
