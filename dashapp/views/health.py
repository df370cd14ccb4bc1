"""Pipeline health and detection quality panels (stream text rendered as plain text)."""

from __future__ import annotations

from typing import Any

from dash import html

from dashapp.store.models import Health, Quality


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


def health_view(h: Health) -> list[Any]:
    """Bridges, lag per partition, DLQ count, reasons and the last bad records."""
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
            ],
        ),
        html.H4("Last bad records"),
        html.Pre("\n".join(h.dlq_samples) or "none", id="health-dlq-samples", className="dlq-samples"),
    ]


def quality_view(q: Quality) -> list[Any]:
    """Precision per rule and recall per scenario, or a note when there is no ground truth."""
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
            f"{s.caught:,}/{s.instances:,}",
            _pct(s.recall),
        ]
        for s in q.scenarios
    ]
    return [
        html.Div(
            className="health-grid",
            children=[
                html.Div(
                    [
                        html.H4("Precision per rule"),
                        _table(["rule", "true pos.", "false pos.", "precision"], rules, "quality-rules"),
                    ]
                ),
                html.Div(
                    [
                        html.H4("Recall per scenario"),
                        _table(
                            ["scenario", "events", "alerted", "caught", "recall"],
                            scenarios,
                            "quality-scenarios",
                        ),
                    ],
                    className="wide",
                ),
            ],
        )
    ]
