"""Backtest logic without I/O: the live-vs-draft comparison, warm-up, range defaults, export, view."""

from __future__ import annotations

import csv
import io
from typing import Any

from backtest.compare import ANY_RULE, HOUR_MS, Comparison, fingerprint
from backtest.engine import warmup_ms
from backtest.export import csv_text
from backtest.worker import time_range
from common.alerts import Alert, Reason, alert_id_for
from common.rulelang import parse_document, to_document
from common.rules import apply_changes, default_rules
from dashapp.views.backtest_view import hourly_figure, rules_table, status_line


def alert(txn: str, *rules: str) -> Alert:
    return Alert(
        alert_id=alert_id_for(txn),
        txn_id=txn,
        ts="2026-01-01T00:00:00.000Z",
        event_ms=0,
        card_id=f"C-{txn}",
        account_id="A",
        amount=10.0,
        currency="USD",
        merchant_id="M",
        merchant_category="grocery",
        city="Paris",
        channel="pos",
        score=0.9,
        severity="high",
        reasons=tuple(Reason(r, 1, 0, f"{r} fired") for r in rules),
        rules_version=1,
    )


def by_rule(c: Comparison) -> dict[str, dict[str, Any]]:
    return {row["rule"]: row for row in c.result()["rules"]}


def test_added_removed_and_unchanged_per_rule_and_for_any_alert() -> None:
    c = Comparison(sample_max=1)
    c.seen(5, ["i1", "i2", "i3"])
    c.observe(0, alert("t1", "a"), alert("t1", "a", "b"), scenario="normal", scenario_id="n1")
    c.observe(10, alert("t2", "a"), None, scenario="card_testing", scenario_id="i1")
    c.observe(HOUR_MS + 5, None, alert("t3", "b"), scenario="card_testing", scenario_id="i2")
    c.observe(HOUR_MS + 6, None, alert("t4", "b"), status="resolved_fraud")
    rows = by_rule(c)
    assert (rows["a"]["added"], rows["a"]["removed"], rows["a"]["unchanged"]) == (0, 1, 1)
    assert (rows["b"]["added"], rows["b"]["removed"], rows["b"]["unchanged"]) == (3, 0, 0)
    assert (rows[ANY_RULE]["added"], rows[ANY_RULE]["removed"], rows[ANY_RULE]["unchanged"]) == (2, 1, 1)
    assert rows["a"]["live"]["precision"] == 0.5  # one normal, one fraud
    assert rows["b"]["draft"]["instance_recall"] == round(1 / 3, 4)  # i2 of i1, i2, i3
    assert rows["b"]["draft"]["analyst_precision"] == 1.0 and rows["a"]["live"]["analyst_precision"] is None
    result = c.result()
    assert result["events"] == 5 and result["fraud_instances"] == 3
    assert [s["txn_id"] for s in result["samples"]["added"]] == ["t3"]  # sample_max=1
    assert [s["txn_id"] for s in result["samples"]["removed"]] == ["t2"]
    hours = {(h["hour_ms"], h["rule"]): (h["live"], h["draft"]) for h in result["hours"]}
    assert hours[(0, ANY_RULE)] == (2, 1) and hours[(HOUR_MS, "b")] == (0, 2)
    assert result["alert_sets"]["live"] == fingerprint([alert_id_for("t1"), alert_id_for("t2")])
    assert fingerprint([]) == {"count": 0, "xor": "0" * 20}


def test_instances_beyond_the_bound_are_counted_not_kept() -> None:
    c = Comparison(instances_max=2)
    c.seen(5, [f"i{i}" for i in range(5)])
    c.seen(1, ["i0", "i9"])
    assert c.instances == {"i0", "i1"} and c.untracked_instances == 4 and c.events == 6


def test_warmup_is_the_longest_window_within_the_bounds() -> None:
    live = default_rules()
    doc = to_document(live)
    doc["rules"].append(
        {"id": "wide", "score": 0.5, "when": {"agg": "count", "window": "6h", "op": "ge", "value": 3}}
    )
    wide = parse_document(doc)
    assert warmup_ms(live, live, 0, 86_400) == live.card_testing.window_s * 1000
    assert warmup_ms(live, wide, 0, 86_400) == 6 * 3_600_000
    assert warmup_ms(live, wide, 0, 3_600) == 3_600_000  # capped
    quiet = apply_changes(live, {"velocity": {"enabled": False}, "card_testing": {"enabled": False}})
    assert warmup_ms(quiet, quiet, 600, 3_600) == 600_000  # the floor


def test_a_run_without_a_range_replays_the_last_default_seconds() -> None:
    assert time_range({}, 3600, 10_000_000) == (10_000_000 - 3_600_000, 10_000_000)
    assert time_range({"from_ms": 5, "to_ms": 9}, 3600, 10_000_000) == (5, 9)


def test_csv_export_has_a_row_per_rule_and_neutralises_formula_cells() -> None:
    c = Comparison()
    c.observe(0, None, alert("t1", "=cmd"))
    rows = list(csv.reader(io.StringIO(csv_text(c.result()))))
    assert rows[0][:4] == ["rule", "added", "removed", "unchanged"]
    assert [r[0] for r in rows[1:]] == [ANY_RULE, "'=cmd"]
    assert rows[2][1:4] == ["1", "0", "0"] and rows[2][4] == "0" and rows[2][5] == ""


def test_the_view_shows_progress_the_table_and_the_hourly_figure() -> None:
    run = {"id": "r1", "status": "running", "progress": {"done": 500, "total": 2000, "rate": 250, "eta_s": 6}}
    assert status_line(run) == "Backtest r1: running \u2014 500 / 2,000 events, 250 events/s, about 6 s left"
    failed = {"id": "r2", "status": "failed", "error": "the range starts in the future"}
    assert status_line(failed).endswith("failed. the range starts in the future")
    c = Comparison()
    c.observe(0, alert("t1", "a"), None)
    table = rules_table(c.result())
    assert "all alerts" in str(table) and "'a'" in str(table)
    figure = hourly_figure(c.result())
    assert [t["name"] for t in figure["data"]] == ["live", "draft"] and figure["data"][0]["y"] == [1]
    assert hourly_figure({"hours": []})["data"] == []


def test_the_view_names_the_model_that_scored_the_range_or_says_the_score_read_zero() -> None:
    from dashapp.views.backtest_view import model_line

    assert model_line({"model": None}) == []  # no rule read model_score
    [scored] = model_line({"model": {"version": "20261207T1", "scored": 12_345, "note": None}})
    assert scored.children == "model_score: the champion 20261207T1 scored the range's 12,345 transactions."
    [asked] = model_line({"model": {"version": "v2", "scored": 7, "note": None, "asked": "v2"}})
    assert asked.children == "model_score: model v2, asked for this run, scored the range's 7 transactions."
    [zero] = model_line(
        {"model": {"version": None, "scored": 0, "note": "model_score read 0: there is no champion"}}
    )
    assert zero.children == "model_score read 0: there is no champion" and "warn" in zero.className


def test_the_model_picker_offers_the_champion_of_run_time_then_versions_by_state_newest_first() -> None:
    from dashapp.views.backtest_view import CHAMPION_CHOICE, model_options

    states = {
        "20261201T0-a": "retired",
        "20261203T0-b": "candidate",
        "20261205T0-c": "candidate",
        "20261202T0-d": "champion",
        "20261204T0-e": "shadow",
    }
    options = model_options(states)
    assert options[0] == {"label": "the champion when it runs", "value": CHAMPION_CHOICE}
    assert [o["value"] for o in options[1:]] == [
        "20261202T0-d", "20261204T0-e", "20261205T0-c", "20261203T0-b", "20261201T0-a"
    ]  # fmt: skip
    assert options[1]["label"] == "20261202T0-d (champion)"
    assert model_options({}) == options[:1]


def test_the_status_line_says_when_the_model_is_still_reading_the_range() -> None:
    run = {
        "id": "r1",
        "status": "running",
        "progress": {"phase": "model", "done": 5_000, "total": 80_000, "rate": 2_500.0, "eta_s": 30.0},
    }
    assert status_line(run) == (
        "Backtest r1: running — 5,000 / 80,000 records read for the model's scores, 2,500 records/s, "
        "about 30 s left"
    )
    run["status"], run["error"] = "cancelled", "stopped by the worker's shutdown"
    assert status_line(run) == (
        "Backtest r1: cancelled — 5,000 / 80,000 records read for the model's scores, 2,500 records/s. "
        "stopped by the worker's shutdown"
    )


def test_the_scoring_watch_reports_at_once_then_at_most_every_interval_and_stops_on_cancel() -> None:
    from backtest.model_scores import ScoringWatch

    reports: list[dict[str, Any]] = []
    cancel = [False]

    def report(body: dict[str, Any]) -> bool:
        reports.append(body)
        return cancel[0]

    shutdown = [False]
    watch = ScoringWatch(report, every_s=3_600, stopping=lambda: shutdown[0])
    assert watch(100, 1_000) is False and reports[0]["phase"] == "model"
    assert (reports[0]["done"], reports[0]["total"]) == (100, 1_000)
    cancel[0] = True
    assert watch(200, 1_000) is False and len(reports) == 1  # not reported again within the interval
    shutdown[0] = True
    assert watch(300, 1_000) is True  # the worker's shutdown stops it between reports
    asked = ScoringWatch(report, every_s=0, stopping=lambda: False)
    assert asked(1, 10) is True and asked.stop  # a cancel read from the run's report


def test_the_scoring_read_keeps_to_the_cap_and_a_cancel_ends_its_pause() -> None:
    from backtest.model_scores import ScoringWatch
    from backtest.throttle import SLICE_S

    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    cancel_after = [99]

    def report(_body: dict[str, Any]) -> bool:
        cancel_after[0] -= 1
        return cancel_after[0] < 0

    watch = ScoringWatch(report, 0.0, lambda: False, max_eps=1_000, clock=lambda: now[0], sleep=sleep)
    assert watch(2_000, 10_000) is False
    assert abs(now[0] - 2.0) < 1e-9 and max(slept) <= SLICE_S  # 2,000 records at 1,000/s: 2 s, in slices
    slept.clear()
    cancel_after[0] = 2  # the run is cancelled during the next pause
    assert watch(6_000, 10_000) is True and len(slept) == 2 and now[0] < 6.0
    uncapped = ScoringWatch(lambda _b: False, 0.0, lambda: False, clock=lambda: now[0], sleep=sleep)
    slept.clear()
    assert uncapped(10_000, 10_000) is False and slept == []
