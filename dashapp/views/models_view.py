"""The Models section: the registry's versions, their held-out metrics and state, and its audit."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from common.model_registry import ALLOWED, CANDIDATE, CHAMPION, RETIRED, SHADOW

ACT = "mdl-act"  # pattern-matching id type of a row's state buttons: {type, version, state}
DASH = "\u2013"
POLL_MS = 10_000  # one HGETALL and one LRANGE per look; the registry changes rarely
# A button per allowed change (common.model_registry.ALLOWED: the one list of them), champion first.
LABELS = {CHAMPION: "Make champion", SHADOW: "Shadow", CANDIDATE: "Back to candidate", RETIRED: "Retire"}
ACTIONS = {
    state: tuple((to, LABELS[to]) for to in (CHAMPION, SHADOW, CANDIDATE, RETIRED) if to in allowed)
    for state, allowed in ALLOWED.items()
}


def models_panel(admin: bool) -> html.Div:
    """Markup only (callbacks: dashapp/callbacks/models_cb.py); the buttons are drawn for admins
    (and every change is checked for the role on the server)."""
    return html.Div(
        [
            html.P(
                [
                    "Models trained with ",
                    html.Code("python -m model train"),
                    " and registered with ",
                    html.Code("python -m model registry register DIR"),
                    ". Every bridge loads the champion within seconds and scores every event with it "
                    "(rules read it as model_score); versions in shadow score beside it, compared live "
                    "below. The pipeline-health panel shows what each bridge holds.",
                ],
                className="muted",
            ),
            html.Div(
                [
                    html.Label("Comment (kept in the audit)", htmlFor="mdl-comment"),
                    dcc.Input(id="mdl-comment", type="text", value="", maxLength=500, className="rb-text"),
                    html.Button(
                        "Roll back champion", id="mdl-rollback", n_clicks=0, className="btn btn-ghost"
                    ),
                ],
                id="mdl-controls",
                className="btn-row" if admin else "btn-row hidden",
            ),
            html.Div(id="mdl-msg", className="message", role="status"),
            html.Div(id="mdl-table", children=html.P("Loading…", className="muted")),
            html.H4("Registry changes"),
            html.Ul(id="mdl-history", className="engine-lines"),
            dcc.Store(id="mdl-changed", data=0),
            dcc.Interval(id="mdl-poll", interval=POLL_MS),
        ]
    )


def _metric(metrics: Any, name: str) -> str:
    value = metrics.get(name) if isinstance(metrics, dict) else None
    return f"{value:.3f}" if isinstance(value, (int, float)) else "\u2013"


def _range(r: Any) -> str:
    return f"{r[0][:16]} \u2192 {r[1][:16]}" if isinstance(r, list) and len(r) == 2 else "\u2013"


def drift_text(check: Any) -> str:
    """The score's PSI and the most shifted feature of the latest `python -m model drift`."""
    if not isinstance(check, dict) or "score_psi" not in check:
        return DASH
    top = (check.get("features") or [{}])[0]
    shifted = f"; {top['feature']} {top['psi']:.2f}" if "feature" in top else ""
    until = str(check.get("to", ""))[:10]
    return f"score PSI {check['score_psi']:.2f} ({check.get('score_rating', '')}){shifted}, to {until}"


def labels_text(checks: Any) -> str:
    """The newest check by labels (precision and recall at its threshold, with their counts) and the
    precisions of the checks before it."""
    if not isinstance(checks, list) or not checks or not isinstance(checks[0], dict):
        return DASH
    new = checks[0]

    def share(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, (int, float)) else DASH

    flagged, caught, frauds = (
        int(v) if isinstance(v := new.get(k), (int, float)) else 0 for k in ("flagged", "caught", "frauds")
    )
    precision = (
        f"precision {share(new.get('precision'))} ({caught} of {flagged} flagged)"
        if flagged
        else "nothing flagged"
    )
    recall = (
        f"recall {share(new.get('recall'))} ({caught} of {frauds} frauds)" if frauds else "no fraud labelled"
    )
    before = [share(c.get("precision")) for c in checks[1:4] if isinstance(c, dict)]
    trend = f"; earlier precision {', '.join(before)}" if before else ""
    until = str(new.get("to", ""))[:16].replace("T", " ")
    return f"{precision}, {recall} at \u2265 {new.get('threshold', '')}, to {until}{trend}"


def live_text(live: Any) -> str:
    """A shadow version beside the champion, live: events both scored, flags at 0.5, mean difference."""
    if not isinstance(live, dict) or not live.get("events"):
        return DASH
    n = live["events"]
    flags = f"flags {live.get('shadow_flags', 0):,.0f} vs {live.get('champion_flags', 0):,.0f}"
    both, diff = live.get("both_flags", 0), live.get("abs_diff", 0) / n
    return f"{n:,.0f} events; {flags} (both {both:,.0f}); mean |\u0394| {diff:.3f}"


def models_table(models: list[dict[str, Any]], admin: bool) -> Any:
    """One row per version, newest first; admins get the buttons its state allows."""
    if not models:
        return html.P("No model registered yet (docs/model.md: train, then register).", className="muted")
    head = (
        "version", "state", "trained on", "AUC", "AP", "CP@100", "drift (latest check)",
        "by labels (newest first)", "live vs champion", "changed", "",
    )  # fmt: skip
    rows = []
    for m in models:
        metrics = m.get("metrics")
        buttons = [
            html.Button(
                label,
                id={"type": ACT, "version": m["version"], "state": state},
                n_clicks=0,
                className="btn btn-ghost btn-small",
                **{"aria-label": f"{label}: {m['version']}"},  # type: ignore[arg-type]
            )
            for state, label in (ACTIONS.get(m["state"], ()) if admin else ())
        ]
        cells = (
            m["version"],
            m["state"],
            _range(m.get("train_range")),
            _metric(metrics, "auc_roc"),
            _metric(metrics, "average_precision"),
            _metric(metrics, "card_precision_at_100"),
            drift_text(m.get("drift")),
            labels_text(m.get("performance")),
            live_text(m.get("live")),
            f"{m['changed_at'][:19].replace('T', ' ')} by {m['changed_by']}",
        )
        rows.append(html.Tr([*(html.Td(c) for c in cells), html.Td(buttons)], className=f"mdl-{m['state']}"))
    return html.Table(
        [html.Thead(html.Tr([html.Th(h, scope="col") for h in head])), html.Tbody(rows)],
        id="mdl-versions",
        className="table bt-table",
    )


def history_items(history: list[dict[str, Any]]) -> list[Any]:
    """The newest registry changes, one line each."""
    out = []
    for h in history:
        line = f"{str(h.get('when', ''))[:19].replace('T', ' ')} {h.get('who', '?')}: {h.get('action', '')} "
        before = h.get("from") or DASH
        line += f"{h.get('version', '')} {before} \u2192 {h.get('to', '')}"
        if h.get("comment"):
            line += f" \u2014 {h['comment']}"
        out.append(html.Li(line))
    return out
