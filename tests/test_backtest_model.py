"""Backtests of rules on `model_score` (real Kafka + Redis): the registry's champion scores the range
first, so a draft rule on the score fires on exactly the events the bridges would alert on, on
either engine; with no champion the run says that the score read 0 instead of silently finding
nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from backtest.model_scores import reads_model_score
from common.alerts import alert_id_for
from common.keys import RedisKeys
from common.model_registry import CHAMPION
from common.rulelang import parse_document, to_document
from common.rules import default_rules
from common.schema import decode_event
from model.features import FeatureConfig
from model.registry import ModelRegistry
from model.serving_rows import Row
from tests.streams import generated, produce
from tests.test_backtest import ENGINES, Worker, engine_used, rows, worker
from tests.test_model_registry_store import register
from tests.test_model_serving_live import CUT_USD, MODEL_HIGH, amount_only_model

pytestmark = pytest.mark.integration
__all__ = ["worker"]  # the backtest tests' fixture, shared with the module it comes from


def model_draft() -> dict[str, Any]:
    doc = to_document(default_rules())
    doc["rules"].append(dict(MODEL_HIGH))
    return doc


def test_only_rule_sets_on_the_score_need_the_model() -> None:
    assert reads_model_score(parse_document(model_draft()))
    assert not reads_model_score(default_rules())
    disabled = model_draft()
    disabled["rules"][-1]["enabled"] = False
    assert not reads_model_score(parse_document(disabled))


@ENGINES
def test_a_draft_rule_on_the_score_fires_where_the_champion_scores_high(
    worker: Worker, kafka_bootstrap: str, topic: str, redis_client: redis.Redis, keys: RedisKeys,
    tmp_path: Path,
) -> None:  # fmt: skip
    path, booster = amount_only_model(tmp_path)  # its score is a function of the amount alone
    reg = ModelRegistry(redis_client, keys)
    version = register(reg, path)
    reg.set_state(version, CHAMPION, "root")
    records = generated(2_000, seed=23)
    start_ms = int(time.time() * 1000) - 1_000
    produce(kafka_bootstrap, topic, records)
    run_id = worker.store.submit(model_draft(), start_ms, int(time.time() * 1000) + 1_000, by="test")
    run = worker.finished(run_id)
    assert run["status"] == "done", run
    result = worker.store.result(run_id)
    assert result is not None
    # what the champion says of each event, worked out here: a score of 0.8 or more
    rates = default_rules().currency
    events = [decode_event(v) for v, _, _ in records]
    amounts = np.array([Row.of(e, rates).amount_cents / 100 for e in events])
    x = np.zeros((len(events), len(FeatureConfig().names())))
    x[:, 0] = amounts
    high = booster.predict(x) >= 0.8
    want = {alert_id_for(e.txn_id) for e, h in zip(events, high, strict=True) if h}
    assert len(want) > 10 and all(a > CUT_USD * 0.9 for a in amounts[high])
    row = rows(result)["model_high"]
    assert (row["live"]["alerts"], row["draft"]["alerts"]) == (0, len(want))
    assert row["added"] == len(want) and row["removed"] == 0
    samples = [s for s in result["samples"]["added"] if "model_high" in s["rules"]]
    assert samples and {s["alert_id"] for s in samples} <= want
    text = samples[0]["reasons"][samples[0]["rules"].index("model_high")]
    assert text.startswith("model score ") and "(amount $" in text  # the reasons, as live alerts have
    summary = result["summary"]
    assert summary["model"] == {"version": version, "scored": len(records), "note": None, "asked": None}
    assert summary["engine"] == engine_used(worker)


@ENGINES
def test_without_a_champion_the_run_says_the_score_read_zero(
    worker: Worker, kafka_bootstrap: str, topic: str
) -> None:
    produce(kafka_bootstrap, topic, generated(300, seed=24))
    start_ms = int(time.time() * 1000) - 60_000
    run_id = worker.store.submit(model_draft(), start_ms, int(time.time() * 1000) + 1_000, by="test")
    assert worker.finished(run_id)["status"] == "done"
    result = worker.store.result(run_id)
    assert result is not None
    assert "model_high" not in rows(result)  # a rule that never fired on either side has no row
    model = result["summary"]["model"]
    assert model["version"] is None and model["note"] == "model_score read 0: there is no champion"


@ENGINES
def test_a_version_that_is_not_champion_is_backtested_in_its_place(
    worker: Worker, kafka_bootstrap: str, topic: str, redis_client: redis.Redis, keys: RedisKeys,
    tmp_path: Path,
) -> None:  # fmt: skip
    path, _ = amount_only_model(tmp_path)
    reg = ModelRegistry(redis_client, keys)
    candidate = register(reg, path)  # a candidate: no champion at all
    produce(kafka_bootstrap, topic, generated(1_000, seed=25))
    start_ms = int(time.time() * 1000) - 60_000
    end_ms = int(time.time() * 1000) + 1_000
    run_id = worker.store.submit(model_draft(), start_ms, end_ms, by="test", model=candidate)
    assert worker.finished(run_id)["status"] == "done"
    result = worker.store.result(run_id)
    assert result is not None
    model = result["summary"]["model"]
    assert model == {"version": candidate, "scored": 1_000, "note": None, "asked": candidate}
    assert rows(result)["model_high"]["draft"]["alerts"] > 0  # its scores, where the champion's would be 0
    gone = worker.store.submit(model_draft(), start_ms, end_ms, by="test", model="no-such-version")
    assert worker.finished(gone)["status"] == "done"
    said = worker.store.result(gone)
    assert said is not None and said["summary"]["model"]["note"] == (
        "model_score read 0: no model version 'no-such-version' is registered"
    )


def test_the_console_form_backtests_the_version_picked(
    redis_client: redis.Redis, keys: RedisKeys, tmp_path: Path
) -> None:
    from dashapp.callbacks.backtest_cb import Backtests

    path, _ = amount_only_model(tmp_path)
    candidate = register(ModelRegistry(redis_client, keys), path)
    form = Backtests(redis_client, keys)
    assert [o["value"] for o in form.model_choices()] == ["", candidate]  # the champion of run time first
    run_id, message, cls = form.start(model_draft(), "1h", "admin", candidate)
    assert run_id is not None and cls == "message ok" and f"with model {candidate}" in message
    assert form.store.get(run_id)["spec"]["model"] == candidate
    default, message, _ = form.start(model_draft(), "1h", "admin", "")
    assert default is not None and "model" not in form.store.get(default)["spec"]
    assert "with model" not in message
    refused, message, cls = form.start(model_draft(), "1h", "admin", "no-such-version")
    assert refused is None and cls == "message error"
    assert "no model version 'no-such-version' is registered" in message
    assert len(form.store.runs()) == 2  # the refused one queued nothing


def test_a_run_cancelled_while_the_model_reads_the_range_ends_cancelled_with_that_progress(
    worker: Worker, kafka_bootstrap: str, topic: str, redis_client: redis.Redis, keys: RedisKeys,
    tmp_path: Path,
) -> None:  # fmt: skip
    from backtest.runs import CANCELLED
    from backtest.worker import execute

    path, _ = amount_only_model(tmp_path)
    reg = ModelRegistry(redis_client, keys)
    reg.set_state(register(reg, path), CHAMPION, "test")
    produce(kafka_bootstrap, topic, generated(2_000, seed=26))
    worker.stop()  # this test runs the claimed run itself
    now_ms = int(time.time() * 1000)
    run_id = worker.store.submit(model_draft(), now_ms - 60_000, now_ms + 1_000, by="test")
    assert worker.store.claim(1.0) == run_id
    assert worker.store.cancel(run_id) == "running"  # asked while it runs: the flag the reports read
    status = execute(
        worker.store, run_id, worker.settings, client=redis_client, keys=keys, stopping=threading.Event()
    )
    run = worker.store.get(run_id)
    assert status == CANCELLED and run["status"] == CANCELLED and run["error"] in (None, "")
    progress = run["progress"]  # the scoring step's own report, the replay never started
    assert progress["phase"] == "model" and 0 < progress["done"] <= progress["total"] == 2_000
    assert worker.store.result(run_id) is None
