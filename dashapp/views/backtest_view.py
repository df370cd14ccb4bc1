"""The rule builder's backtest panel: start, progress, cancel, per-rule table, hourly figure, samples."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dash import dcc, html

from dashapp.figures.base import BLUE, RED, base_layout, empty_figure, esc

RANGES = {"1h": 3_600, "6h": 6 * 3_600, "24h": 24 * 3_600}
CHAMPION_CHOICE = ""  # the model picker's default: whichever version is champion when the worker runs
_STATE_ORDER = ("champion", "shadow", "candidate", "retired")  # common.model_registry.STATES, shown so
POLL_MS = 1_000
ANY_RULE = "*"  # backtest.compare.ANY_RULE: every alert, whatever rule fired


def backtest_panel(admin: bool) -> html.Div:
    """The panel under the publish bar; the button and cancel are admins' (the server checks too)."""
    controls = html.Div(
        [
            html.Label(
                [
                    html.Span("Replay the last", className="rb-label"),
                    dcc.Dropdown(
                        id="bt-range",
                        options=[{"label": k, "value": k} for k in RANGES],
                        value="1h",
                        clearable=False,
                        className="rb-select",
                    ),
                ],
                className="rb-part",
            ),
            html.Label(
                [
                    html.Span("with the model", className="rb-label"),
                    dcc.Dropdown(
                        id="bt-model",
                        options=model_options({}),
                        value=CHAMPION_CHOICE,
                        clearable=False,
                        className="rb-select",
                    ),
                ],
                className="rb-part bt-part-model",
            ),
            html.Button("Backtest this draft", id="bt-start", n_clicks=0, className="btn"),
            html.Button("Cancel backtest", id="bt-cancel", n_clicks=0, className="btn btn-ghost"),
        ],
        className="btn-row" if admin else "btn-row hidden",
    )
    return html.Div(
        id="bt-panel",
        className="rb-backtest",
        children=[
            html.H4("Backtest"),
            html.P(
                "Replays the stream Kafka keeps through the live rules and this draft side by side; "
                "nothing live changes.",
                className="muted",
            ),
            controls,
            html.Div(id="bt-msg", className="message", role="status"),
            html.Div(id="bt-status", className="bt-status", role="status"),
            html.Div(id="bt-result", className="bt-result"),
            dcc.Store(id="bt-run", storage_type="memory"),
            dcc.Interval(id="bt-poll", interval=POLL_MS, disabled=True),
        ],
    )


def model_options(states: Mapping[str, str]) -> list[dict[str, str]]:
    """The picker's choices from {version: state}: the champion of run time first, then each version
    (champion, shadows, candidates, retired; newest version first within a state)."""
    rank = {state: i for i, state in enumerate(_STATE_ORDER)}
    versions = sorted(states, reverse=True)  # versions are UTC-time-stamped: newest first
    versions.sort(key=lambda v: rank.get(states[v], len(rank)))  # stable: newest first within a state
    return [{"label": "the champion when it runs", "value": CHAMPION_CHOICE}] + [
        {"label": f"{v} ({states[v]})", "value": v} for v in versions
    ]


def _when(ms: int | None) -> str:
    if not ms:
        return "\u2013"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_line(run: dict[str, Any]) -> str:
    """One line: status, events done / total, rate and time left (or the error)."""
    p = run.get("progress") or {}
    done, total = int(p.get("done", 0)), int(p.get("total", 0))
    text = f"Backtest {run.get('id', '')}: {run.get('status', '')}"
    # phase "model" (backtest.model_scores.ScoringWatch): the model reads and scores the range first
    what = "records read for the model's scores" if p.get("phase") == "model" else "events"
    if total:
        text += f" — {done:,} / {total:,} {what}"
        if p.get("rate"):
            text += f", {float(p['rate']):,.0f} {what.split(maxsplit=1)[0]}/s"
        if p.get("eta_s") is not None and run.get("status") == "running":
            text += f", about {float(p['eta_s']):,.0f} s left"
    if run.get("error"):
        text += f". {run['error']}"
    return text


def _ratio(value: Any) -> str:
    return "\u2013" if value is None else f"{float(value):.2f}"


def rules_table(result: dict[str, Any]) -> html.Table:
    """Per rule: live and draft alerts, added / removed / unchanged, precision and analysts' view."""
    head = (
        "rule",
        "live",
        "draft",
        "added",
        "removed",
        "unchanged",
        "precision live",
        "precision draft",
        "recall live",
        "recall draft",
        "analyst precision live",
        "analyst precision draft",
    )
    rows = []
    for row in result.get("rules", []):
        live, draft = row["live"], row["draft"]
        name = "all alerts" if row["rule"] == ANY_RULE else row["rule"]
        cells = (
            name,
            live["alerts"],
            draft["alerts"],
            row["added"],
            row["removed"],
            row["unchanged"],
            _ratio(live["precision"]),
            _ratio(draft["precision"]),
            _ratio(live["instance_recall"]),
            _ratio(draft["instance_recall"]),
            _ratio(live["analyst_precision"]),
            _ratio(draft["analyst_precision"]),
        )
        rows.append(html.Tr([html.Td(str(c)) for c in cells], **{"data-rule": row["rule"]}))
    return html.Table(
        [html.Thead(html.Tr([html.Th(h, scope="col") for h in head])), html.Tbody(rows)],
        id="bt-table",
        className="table bt-table",
    )


def hourly_figure(result: dict[str, Any]) -> dict[str, Any]:
    """Alerts per hour (record time), live vs draft, every rule together."""
    hours = [h for h in result.get("hours", []) if h["rule"] == ANY_RULE]
    if not hours:
        return empty_figure("No alerts in this range")
    x = [datetime.fromtimestamp(h["hour_ms"] / 1000, tz=UTC).isoformat() for h in hours]
    data = [
        {"type": "bar", "name": "live", "x": x, "y": [h["live"] for h in hours], "marker": {"color": BLUE}},
        {"type": "bar", "name": "draft", "x": x, "y": [h["draft"] for h in hours], "marker": {"color": RED}},
    ]
    return {
        "data": data,
        "layout": base_layout(barmode="group", height=220, yaxis={"title": "alerts / hour"}),
    }


def samples_list(result: dict[str, Any]) -> html.Div:
    """The kept added and removed alerts with their explanations."""
    parts: list[Any] = []
    for change, title in (("added", "Added by the draft"), ("removed", "Removed by the draft")):
        items = [
            html.Li(
                f"{s['ts']} card {esc(s['card_id'])} {s['amount']:,.2f} {s['currency']} "
                f"(score {s['score']:.2f}): " + "; ".join(s["reasons"])
            )
            for s in result.get("samples", {}).get(change, [])
        ]
        parts += [html.H5(f"{title} ({len(items)} shown)"), html.Ul(items or [html.Li("none")])]
    return html.Div(parts, id="bt-samples", className="bt-samples")


def result_view(run: dict[str, Any], result: dict[str, Any]) -> list[Any]:
    """Everything a finished run shows."""
    s = result.get("summary", {})
    rid = run.get("id", "")
    head = html.P(
        f"{s.get('range_events', 0):,} events from {_when(s.get('from_ms'))} to {_when(s.get('to_ms'))} "
        f"(after {s.get('warmup_events', 0):,} warm-up events), live rules v{s.get('live_version', '?')}.",
        className="muted",
    )
    links = html.P(
        [
            html.A(
                "Export CSV",
                href=f"/api/backtests/{rid}/export?format=csv",
                className="btn btn-ghost btn-small",
            ),
            html.A(
                "Export JSON",
                href=f"/api/backtests/{rid}/export?format=json",
                className="btn btn-ghost btn-small",
            ),
        ]
    )
    figure = dcc.Graph(id="bt-hourly", figure=hourly_figure(result), config={"displayModeBar": False})
    return [head, *model_line(s), rules_table(result), figure, samples_list(result), links]


def model_line(summary: dict[str, Any]) -> list[Any]:
    """Which model scored the range for the rules on `model_score` (none when no rule reads it)."""
    m = summary.get("model")
    if not isinstance(m, dict):
        return []
    if m.get("version"):
        n = m.get("scored", 0)
        version = m["version"]
        who = f"model {version}, asked for this run," if m.get("asked") else f"the champion {version}"
        text = f"model_score: {who} scored the range's {n:,} transactions."
        return [html.P(text, id="bt-model", className="muted")]
    return [html.P(str(m.get("note") or "model_score read 0"), id="bt-model", className="message warn")]
