"""Pipeline health and detection quality panels (stream text rendered as plain text)."""

from __future__ import annotations

from typing import Any

from dash import html

from dashapp.store.events_health import EventsHealth
from dashapp.store.models import Health, Quality
from dashapp.views.search import age_text


def _table(head: list[str], rows: list[list[Any]], table_id: str) -> html.Table:
    return html.Table(
        id=table_id,
        className="table",
        children=[
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows]),
        ],
    )


def _pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.1f} %"


def engine_lines(h: Health) -> list[str]:
    """One line per engine status the live bridges report (which engine decides, or why the native
    one is off), naming the bridges; bridges too old to report one are left out."""
    by_status: dict[str, list[str]] = {}
    for b in h.bridges:
        if b.alive and b.engine:
            by_status.setdefault(b.engine, []).append(b.instance)
    ordered = sorted(by_status.items(), key=lambda item: (item[0] == "native", item[0]))  # problems first
    return [f"{status} ({', '.join(names)})" for status, names in ordered]


def model_lines(h: Health) -> list[str]:
    """One line per champion-model status the live bridges report (a refusal first), naming them."""
    by_status: dict[str, list[str]] = {}
    for b in h.bridges:
        if b.alive and b.model:
            by_status.setdefault(b.model, []).append(b.instance)
    ordered = sorted(by_status.items(), key=lambda item: ("refused" not in item[0], item[0]))
    return [f"Model: {status} ({', '.join(names)})" for status, names in ordered]


def _ago(age_s: float | None, never: str) -> str:
    return never if age_s is None else f"{age_text(int(age_s * 1000))} ago"


def events_rows(e: EventsHealth) -> list[list[str]]:
    """The outbox relay's backlog and progress, and the webhook notifier's counters, as table rows."""
    return [
        ["waiting in the outbox", f"{e.waiting:,}"],
        ["oldest waiting", age_text(int(e.oldest_age_s * 1000)) if e.oldest_age_s is not None else "\u2013"],
        ["relay last published", _ago(e.relay_age_s, "never")],
        ["published to Kafka", f"{e.published:,}"],
        ["not events (set aside)", f"{e.invalid:,}"],
        ["webhooks delivered", f"{e.webhooks_delivered:,}"],
        ["webhook dead letters", f"{e.webhooks_dead:,}"],
        ["webhook failed attempts", f"{e.webhooks_failed_attempts:,}"],
    ]


def events_block(e: EventsHealth) -> html.Div:
    """The events panel: a warning line (or "relay keeping up") above the counters."""
    state = (
        html.P(e.warning, id="health-outbox-state", className="message warn", role="status")
        if e.warning
        else html.P("Relay keeping up.", id="health-outbox-state", className="message ok", role="status")
    )
    return html.Div(
        [
            html.H4("Alert events (outbox \u2192 Kafka)"),
            state,
            _table(["measure", "value"], events_rows(e), "health-outbox"),
        ],
        className="health-warn" if e.warning else "",
    )


def health_view(h: Health) -> list[Any]:
    """Bridges and their engine, lag per partition, DLQ count, reasons and the last bad records."""
    bridges = [
        [
            b.instance,
            "alive" if b.alive else "DEAD",
            f"{b.age_s:.1f} s",
            f"{b.processed:,}",
            ", ".join(str(p) for p in b.partitions) or "\u2013",
            b.host,
        ]
        for b in h.bridges
    ]
    lag = [[p, f"{n:,}"] for p, n in h.lag.items()]
    reasons = [[r, f"{n:,}"] for r, n in h.dlq_reasons.items()]
    return [
        html.Div(
            className="health-grid",
            children=[
                html.Div(
                    [
                        html.H4("Bridges"),
                        _table(
                            ["instance", "state", "heartbeat", "processed", "partitions", "host"],
                            bridges,
                            "health-bridges",
                        ),
                        html.Ul(
                            [html.Li(line) for line in (*engine_lines(h), *model_lines(h))],
                            id="health-engine",
                            className="engine-lines",
                        ),
                    ],
                    className="wide",  # six columns: a row of its own
                ),
                html.Div(
                    [
                        html.H4(f"Consumer lag (total {h.total_lag:,})"),
                        _table(["partition", "records behind"], lag, "health-lag"),
                    ]
                ),
                html.Div(
                    [
                        html.H4(
                            ["Dead-letter queue: ", html.Span(f"{h.dlq_total:,}", id="health-dlq-count")]
                        ),
                        _table(["reason", "records"], reasons, "health-dlq-reasons"),
                    ]
                ),
                events_block(h.events),
            ],
        ),
        html.H4("Last bad records"),
        html.Pre("\n".join(h.dlq_samples) or "none", id="health-dlq-samples", className="dlq-samples"),
    ]


def _numbers(head: list[str], rows: list[list[Any]], table_id: str) -> html.Table:
    """A quality table: the label column may wrap, every number column is right-aligned."""
    num = ["", *["num"] * (len(head) - 1)]
    return html.Table(
        id=table_id,
        className="table quality-table",
        children=[
            html.Thead(html.Tr([html.Th(h, className=k) for h, k in zip(head, num, strict=True)])),
            html.Tbody(
                [html.Tr([html.Td(c, className=k) for c, k in zip(r, num, strict=True)]) for r in rows]
            ),
        ],
    )


def quality_view(q: Quality) -> list[Any]:
    """Precision per rule and recall per scenario over finished instances, or a note when there
    is no ground truth. Instances still in progress are shown apart: neither caught nor missed."""
    if q.empty:
        return [
            html.P("No ground truth seen yet (the producer labels its fraud scenarios).", className="muted")
        ]
    rules = [[r.rule, f"{r.tp:,}", f"{r.fp:,}", _pct(r.precision)] for r in q.rules]
    scenarios = [
        [
            s.scenario,
            f"{s.events:,}",
            f"{s.alerted_events:,}",
            f"{s.caught:,}",
            f"{s.missed:,}",
            f"{s.in_progress:,}",
            _pct(s.recall),
        ]
        for s in q.scenarios
    ]
    # One column: side by side, the rules table's last column (precision) was cut off at any width.
    return [
        html.Div(
            className="quality-grid",
            children=[
                html.Div(
                    [
                        html.H4("Precision per rule"),
                        _numbers(["rule", "true pos.", "false pos.", "precision"], rules, "quality-rules"),
                    ]
                ),
                html.Div(
                    [
                        html.H4("Recall per scenario (finished instances)"),
                        _numbers(
                            ["scenario", "events", "alerted", "caught", "missed", "in progress", "recall"],
                            scenarios,
                            "quality-scenarios",
                        ),
                    ]
                ),
            ],
        )
    ]
