"""A model's precision over time by labels: the figures, their store, the console, /api/models, /metrics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from common.keys import RedisKeys
from common.model_registry import CHAMPION
from dashapp.views.models_view import labels_text
from model.metrics import ALERT_THRESHOLD, evaluate
from model.performance import CHECKS_MAX, PerformanceChecks, labelled_periods, measure, periods
from model.registry import ModelRegistry
from tests.test_dash_metrics import AUTH, SCRAPE
from tests.test_model_registry_store import register, train_tiny
from tests.test_rules_registry_api import auth
from tests.test_security_fixtures import make_app, write_users

H = 3_600_000


def _rows(scores: list[float], fraud: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(scores)
    return (
        np.zeros(n, dtype=np.int64),
        np.arange(n, dtype=np.int64),
        np.array(fraud, dtype=bool),
        np.array(scores, dtype=np.float64),
    )


def test_precision_and_recall_count_the_scores_at_or_above_the_threshold() -> None:
    _, day_card, fraud, scores = _rows([0.95, 0.8, 0.79, 0.3, 0.85, 0.1], [1, 0, 1, 0, 1, 0])
    day = np.zeros(6, dtype=np.int64)
    s = evaluate(day, day_card, fraud, scores)  # the default threshold: 0.8, the model_high rule's
    assert s.threshold == ALERT_THRESHOLD == 0.8
    assert (s.flagged, s.caught, s.frauds) == (3, 2, 3)  # 0.95, 0.8 (at the threshold) and 0.85
    assert s.precision == 2 / 3 and s.recall == 2 / 3
    low = evaluate(day, day_card, fraud, scores, threshold=0.5)
    assert (low.flagged, low.caught) == (4, 3)  # 0.79 counts now
    lower = evaluate(day, day_card, fraud, scores, threshold=0.2)
    assert (lower.flagged, lower.caught, lower.precision, lower.recall) == (5, 3, 0.6, 1.0)
    d = s.as_dict()
    assert (d["threshold"], d["flagged"], d["precision"], d["recall"]) == (0.8, 3, 0.6667, 0.6667)


def test_a_range_that_cannot_give_a_figure_records_null_not_nan() -> None:
    nothing_flagged = measure(*_rows([0.1, 0.2, 0.3], [1, 0, 0]), threshold=0.8)
    assert nothing_flagged["precision"] is None and nothing_flagged["recall"] == 0.0
    no_fraud = measure(*_rows([0.9, 0.2], [0, 0]), threshold=0.8)
    assert no_fraud["precision"] == 0.0 and no_fraud["recall"] is None and no_fraud["auc_roc"] is None
    assert math.isnan(evaluate(*_rows([0.9, 0.2], [0, 0])).recall)
    assert evaluate(*_rows([0.9, 0.2], [0, 0])).as_dict()["recall"] is None  # model cards are JSON: no NaN


def test_periods_cut_a_range_into_consecutive_pieces() -> None:
    assert periods((0, 10 * H), None) == [(0, 10 * H)]
    assert periods((0, 10 * H), 4 * H) == [(0, 4 * H), (4 * H, 8 * H), (8 * H, 10 * H)]
    assert periods((0, 8 * H), 4 * H) == [(0, 4 * H), (4 * H, 8 * H)]


def test_a_period_without_a_labelled_row_is_not_checked() -> None:
    record = np.array([0, H // 2, H + 1, 2 * H + 5, 2 * H + 9], dtype=np.int64)
    labelled = np.array([False, True, False, False, True])
    found = labelled_periods(record, labelled, (0, 3 * H), H)
    assert [span for span, _ in found] == [(0, H), (2 * H, 3 * H)]  # the middle hour: rows, no label
    assert [part.tolist() for _, part in found] == [
        [True, True, False, False, False],
        [False] * 3 + [True] * 2,
    ]
    assert labelled_periods(record, np.zeros(5, dtype=bool), (0, 3 * H), None) == []


def test_the_console_shows_the_newest_check_and_the_precision_before_it() -> None:
    checks = [
        {"to": "2026-12-07T00:00:00.000Z", "precision": 0.5, "recall": 0.25, "threshold": 0.8, "flagged": 4,
         "caught": 2, "frauds": 8},
        {"to": "2026-11-30T00:00:00.000Z", "precision": 0.9, "recall": 0.5, "threshold": 0.8},
        {"to": "2026-11-23T00:00:00.000Z", "precision": None, "recall": None, "threshold": 0.8},
    ]  # fmt: skip
    assert labels_text(checks) == (
        "precision 0.50 (2 of 4 flagged), recall 0.25 (2 of 8 frauds) at \u2265 0.8, to 2026-12-07 00:00; "
        "earlier precision 0.90, \u2013"
    )
    quiet = {"to": "2026-12-07T10:05:00.000Z", "threshold": 0.9, "flagged": 0, "frauds": 0}
    assert labels_text([quiet]) == "nothing flagged, no fraud labelled at \u2265 0.9, to 2026-12-07 10:05"
    edited = {"to": 5, "flagged": "x", "caught": [1], "frauds": None}  # a hand edit in Redis
    assert labels_text([edited]).startswith("nothing flagged, no fraud labelled")
    assert labels_text([]) == labels_text(None) == "\u2013"


@pytest.mark.integration
def test_checks_are_kept_newest_range_first_one_per_range_and_bounded(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    store = PerformanceChecks(redis_client, keys)
    rows = _rows([0.9, 0.85, 0.1], [1, 0, 0])
    first = store.check("v1", (0, H), rows, 0.8, "cli")
    assert first["from"] == "1970-01-01T00:00:00.000Z" and first["precision"] == 0.5
    store.check("v1", (H, 2 * H), rows, 0.8, "cli")
    # the same range again (more labels known now) replaces its check; another threshold is another check
    again = store.check("v1", (0, H), _rows([0.9, 0.85, 0.1], [1, 1, 0]), 0.8, "retrain")
    store.check("v1", (0, H), rows, 0.5, "cli")
    kept = store.of("v1")
    ends = [(c["to"][11:16], c["threshold"]) for c in kept]
    assert ends == [("02:00", 0.8), ("01:00", 0.5), ("01:00", 0.8)]  # equal ranges: the newest check first
    assert kept[2] == again and again["precision"] == 1.0 and again["source"] == "retrain"
    weekly = store.check("v2", (0, H // 2), rows, 0.8, "retrain")  # a range the command never checks
    for hour in range(CHECKS_MAX + 5):
        store.check("v2", (hour * H, (hour + 1) * H), rows, 0.8, "cli")
    newest = store.of("v2")
    by_cli = [c for c in newest if c["source"] == "cli"]
    assert len(by_cli) == CHECKS_MAX and newest[0]["to"].startswith("1970-01-03T09:00")  # hour 57's end
    assert weekly in newest  # the schedule's check is kept however many the command adds
    assert set(store.all()) == {"v1", "v2"}
    redis_client.hset(keys.models_performance, "v3", b"not json")
    assert "v3" not in store.all() and store.of("v3") == []  # a hand edit shows no check, breaks nothing


@pytest.mark.integration
def test_the_api_the_console_table_and_metrics_show_the_checks(
    redis_client: redis.Redis, redis_prefix: str, keys: RedisKeys, tmp_path: Path
) -> None:
    registry = ModelRegistry(redis_client, keys)
    champion = register(registry, train_tiny(tmp_path, 31))
    other = register(registry, train_tiny(tmp_path, 32))
    registry.set_state(champion, CHAMPION, "root")
    store = PerformanceChecks(redis_client, keys)
    store.check(champion, (0, H), _rows([0.9, 0.85, 0.81, 0.1], [1, 1, 0, 1]), 0.8, "retrain")
    store.check(champion, (H, 2 * H), _rows([0.9, 0.6, 0.1], [1, 0, 1]), 0.5, "cli")  # newer, at 0.5
    users = write_users(tmp_path / "users.json")
    http = make_app(redis_client, redis_prefix, users, dash_metrics_token=SCRAPE).server.test_client()
    rows = {m["version"]: m for m in http.get("/api/models", headers=auth("ann")).get_json()["models"]}
    check = rows[champion]["performance"][1]
    assert (check["precision"], check["recall"], check["flagged"]) == (0.6667, 0.6667, 3)
    assert rows[other]["performance"] == []
    text = http.get("/metrics", headers=AUTH).get_data(as_text=True)
    found = {
        (s.name, s.labels["version"], s.labels["state"], s.labels["threshold"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name in {"dashapp_model_precision", "dashapp_model_recall"}
        for s in family.samples
    }
    assert found == {  # the newest check of each threshold: 0.8 is not hidden by a newer 0.5 one
        ("dashapp_model_precision", champion, CHAMPION, "0.8"): 0.6667,
        ("dashapp_model_recall", champion, CHAMPION, "0.8"): 0.6667,
        ("dashapp_model_precision", champion, CHAMPION, "0.5"): 0.5,
        ("dashapp_model_recall", champion, CHAMPION, "0.5"): 0.5,
    }
