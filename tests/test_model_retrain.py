"""`python -m model retrain` on real Kafka and Redis: a better candidate is shadowed, an equal one not."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from common.keys import RedisKeys
from common.labels import FRAUD, label_record
from common.model_registry import CANDIDATE, CHAMPION, SHADOW
from model.drift_store import DriftChecks
from model.features import FeatureConfig
from model.performance import PerformanceChecks
from model.registry import ModelRegistry
from model.retrain import Window, duration_ms, prune_candidates, verdict
from tests.conftest import REPO_ROOT
from tests.test_model_registry_store import register, train_tiny
from tests.test_model_train_cli import _iso, _send, _stream

H = 3_600_000


def test_durations_and_the_newest_labelled_ranges() -> None:
    assert [duration_ms(x) for x in ("90s", "30m", "12h", "7d")] == [90_000, 1_800_000, 12 * H, 7 * 24 * H]
    for bad in ("7", "1w", "-1d", "d", "0s"):
        with pytest.raises(argparse.ArgumentTypeError):
            duration_ms(bad)
    ranges = Window(train_ms=7 * H, test_ms=3 * H, wait_ms=H).ranges(100 * H)
    assert ranges.train == (89 * H, 96 * H) and ranges.test == (96 * H, 99 * H)


def test_the_verdict_compares_average_precision_on_the_same_rows() -> None:
    assert verdict({"average_precision": 0.4}, {"average_precision": 0.3}) == (
        True, "AP 0.400 beats the champion's 0.300 on the same held-out range",
    )  # fmt: skip
    assert not verdict({"average_precision": 0.3}, {"average_precision": 0.3})[0]  # a tie is not better
    assert not verdict({"average_precision": 0.2}, {"average_precision": 0.3})[0]
    assert verdict({"average_precision": 0.2}, None)[0]  # no champion: shadow it, an admin decides
    assert not verdict({"average_precision": math.nan}, None)[0]


def _retrain(env: dict[str, str], out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "model", "retrain", "--train", "7h", "--test", "3h", "--label-wait", "1h"]
    argv += ["--out", str(out), "--by", "ci", *extra]
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.integration
def test_a_better_candidate_is_shadowed_an_equal_one_stays_a_candidate(
    kafka_bootstrap: str, topic: str, labels_topic: str, redis_url: str, redis_prefix: str,
    redis_client: redis.Redis, keys: RedisKeys, tmp_path: Path,
) -> None:  # fmt: skip
    times, pending = _stream(kafka_bootstrap, topic)  # ~11 h of events ending an hour ago
    labels = pending.due(times[-1])
    _send(
        kafka_bootstrap, labels_topic, [(label_record(x)[1], label_record(x)[0], x.label_ms) for x in labels]
    )
    registry = ModelRegistry(redis_client, keys)
    weak = register(registry, train_tiny(tmp_path / "weak", 21))  # random features: ranks nothing
    registry.set_state(weak, CHAMPION, "root")
    env = {
        **os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC": topic,
        "KAFKA_LABELS_TOPIC": labels_topic, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix,
    }  # fmt: skip
    now = _iso(times[-1] + H)  # one fixed "now": both runs read exactly the same ranges
    done = _retrain(env, tmp_path / "m", "--now", now)
    assert done.returncode == 0, done.stderr
    (first,) = [v for v in registry.entries() if v != weak]
    assert registry.entries()[first].state == SHADOW
    assert registry.entries()[weak].state == CHAMPION  # never promoted by the schedule
    # the champion and the new shadow were both checked by labels on the same held-out range
    after_first = PerformanceChecks(redis_client, keys).all()
    assert set(after_first) == {weak, first}
    spans = {v: [(c["from"], c["to"]) for c in checks] for v, checks in after_first.items()}
    assert spans[weak] == spans[first] and len(spans[first]) == 1
    why = registry.history(1)[0]
    assert why["who"] == "ci" and "beats the champion's" in why["comment"]
    # the candidate becomes champion; the same data again gives the same model: not better, stays candidate
    registry.set_state(first, CHAMPION, "root")
    again = _retrain(env, tmp_path / "m", "--now", now)
    assert again.returncode == 0, again.stderr
    (second,) = [v for v in registry.entries() if v not in {weak, first}]
    assert registry.entries()[second].state == CANDIDATE
    assert "does not beat the champion's" in registry.entries()[second].comment  # the audit says why not
    # each run also checks the champion's drift over the held-out range (the weak one had no reference)
    checks = DriftChecks(redis_client, keys).latest()
    assert set(checks) == {first} and checks[first]["from"] == _iso(times[-1] - 3 * H)
    (line,) = [x for x in again.stderr.splitlines() if "retrain: {" in x]
    result = json.loads(line.split("retrain: ", 1)[1])
    assert "does not beat" in result["why"] and result["champion"] == first
    assert result["metrics"]["average_precision"] == result["champion_metrics"]["average_precision"]
    # the champion scores the held-out range offline, with its reasons (python -m model score)
    scored = _score(env, tmp_path / "scores.csv", _iso(times[-1] - 3 * H), _iso(times[-1]))
    assert scored.returncode == 0, scored.stderr
    with (tmp_path / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    in_range = [t for t in times if times[-1] - 3 * H <= t < times[-1]]
    assert len(rows) == len(in_range) and len({r["txn_id"] for r in rows}) == len(rows)
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    top = sorted(rows, key=lambda r: -float(r["score"]))[:20]
    assert all(r["reasons"] for r in top)  # the highest scores say why
    (line,) = [x for x in scored.stderr.splitlines() if "score: {" in x]
    summary = json.loads(line.split("score: ", 1)[1])
    assert summary["model"] == first and summary["transactions"] == len(rows)
    frauds = summary["metrics"]["frauds"] / summary["metrics"]["transactions"]
    assert summary["metrics"]["average_precision"] > 3 * frauds  # the champion ranks fraud first
    # drift of the held-out range against the champion's training range, recorded for the console
    start, end = _iso(times[-1] - 3 * H), _iso(times[-1])
    checked = _model_cmd(env, "drift", "--from", start, "--to", end)
    assert checked.returncode == 0, checked.stderr
    (check,) = DriftChecks(redis_client, keys).latest().values()
    assert check["version"] == first and check["rows"] == len(rows) and check["from"].startswith(start[:16])
    names = {f["feature"] for f in check["features"]}
    assert "amount" in names and len(names) == len(FeatureConfig().names())
    assert check["score_rating"] in {"stable", "moderate shift", "significant shift"}
    weak_check = _model_cmd(env, "drift", "--from", start, "--to", end, "--model", weak)
    assert weak_check.returncode == 2 and "no drift reference" in weak_check.stderr  # trained without one
    # precision by labels: each retrain run checked its champion on the held-out range
    by_labels = PerformanceChecks(redis_client, keys).all()
    assert set(by_labels) == {weak, first}
    (held,) = by_labels[first]
    assert (held["source"], held["from"], held["threshold"]) == ("retrain", _iso(times[-1] - 3 * H), 0.8)
    # python -m model performance: one check per hour of the range, the figures the scores and labels give
    fraud_ids = {x.txn_id for x in labels if x.label == FRAUD}
    ranked = sorted({float(r["score"]) for r in rows}, reverse=True)
    k = next(i for i in range(9, len(ranked) - 1) if ranked[i] - ranked[i + 1] > 1e-5)  # CSV: 6 decimals
    threshold = (ranked[k] + ranked[k + 1]) / 2
    perf = _model_cmd(
        env, "performance", "--from", start, "--to", end, "--every", "1h", "--threshold", f"{threshold}"
    )
    assert perf.returncode == 0, perf.stderr
    checks = [c for c in PerformanceChecks(redis_client, keys).of(first) if c["source"] == "cli"]
    assert len(checks) == 3 and checks[0]["to"][:16] == end[:16] and checks[-1]["from"][:16] == start[:16]
    flagged = [r for r in rows if float(r["score"]) >= threshold]
    assert sum(c["flagged"] for c in checks) == len(flagged) >= 10
    assert sum(c["caught"] for c in checks) == sum(r["txn_id"] in fraud_ids for r in flagged)
    assert sum(c["frauds"] for c in checks) == sum(r["txn_id"] in fraud_ids for r in rows) > 0
    refused = _model_cmd(env, "performance", "--from", start, "--to", end, "--threshold", "0")
    assert refused.returncode == 2 and "--threshold" in refused.stderr


def _model_cmd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def _score(
    env: dict[str, str], out: Path, start: str, end: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "model", "score", "--from", start, "--to", end, "--out", str(out), *extra]
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.integration
def test_no_labels_registers_nothing_and_a_schedule_runs_on_new_labels(
    kafka_bootstrap: str, topic: str, labels_topic: str, redis_url: str, redis_prefix: str,
    redis_client: redis.Redis, keys: RedisKeys, tmp_path: Path,
) -> None:  # fmt: skip
    times, pending = _stream(kafka_bootstrap, topic)
    env = {
        **os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC": topic,
        "KAFKA_LABELS_TOPIC": labels_topic, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix,
    }  # fmt: skip
    refused = _retrain(env, tmp_path / "m", "--now", _iso(times[-1] + H))
    assert refused.returncode == 2
    assert "no fraud labels" in refused.stderr and "see --train, --test, --label-wait" in refused.stderr
    registry = ModelRegistry(redis_client, keys)
    assert registry.entries() == {}
    unscored = _score(env, tmp_path / "none.csv", _iso(times[0]), _iso(times[-1]))
    assert unscored.returncode == 2 and "there is no champion" in unscored.stderr
    assert not (tmp_path / "none.csv").exists()
    # on a schedule: a run at start (refused: still no labels), another once 50 labels arrived
    log = tmp_path / "schedule.log"
    proc = _schedule(env, tmp_path / "s", log)
    try:
        _wait_for(log, proc, "run failed (exit 2)")  # the first run, at start, found no labels
        labels = pending.due(times[-1])
        assert len(labels) > 50
        _send(
            kafka_bootstrap,
            labels_topic,
            [(label_record(x)[1], label_record(x)[0], x.label_ms) for x in labels],
        )
        _wait_for(log, proc, "retrain: {")  # the second run: a model registered
        assert len(registry.entries()) == 1
    finally:
        _stop(proc)
    assert "retrain: stopped" in log.read_text()
    memory = {k.decode(): int(v) for k, v in redis_client.hgetall(keys.models_retrain).items()}
    # the labels topic's size when the run started: the schedule may have looked while the labels
    # were still landing (once 50 had), so anything from 50 up to all of them
    assert 50 <= memory["labels"] <= len(labels)
    # restarted (a container restart loop): it remembers its last run and does not retrain at start
    again = tmp_path / "again.log"
    proc = _schedule(env, tmp_path / "s", again)
    try:
        time.sleep(4)  # four checks at --check 1s
    finally:
        _stop(proc)
    assert "retrain: {" not in again.read_text() and "run failed" not in again.read_text()
    assert len(registry.entries()) == 1


def _schedule(env: dict[str, str], out: Path, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "model", "retrain", "--train", "7h", "--test", "3h", "--label-wait", "1h"]
    argv += ["--out", str(out), "--by", "ci", "--after-labels", "50", "--check", "1s"]
    with log.open("wb") as f:
        return subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)


def _wait_for(log: Path, proc: subprocess.Popen[bytes], text: str, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text():
        assert proc.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, f"never logged {text!r}: {log.read_text()[-2000:]}"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0


@pytest.mark.integration
def test_pruning_deletes_only_the_schedules_own_oldest_candidates(
    redis_client: redis.Redis, keys: RedisKeys, tmp_path: Path
) -> None:
    ticks = iter(range(1_800_000_000, 1_800_001_000))
    registry = ModelRegistry(redis_client, keys, clock=lambda: float(next(ticks)))  # one second a call
    dirs = [train_tiny(tmp_path, seed) for seed in range(31, 37)]
    mine = []
    for path in dirs[:4]:
        card = json.loads((path / "card.json").read_text())
        mine.append(
            registry.register((path / "model.txt").read_text(), card, "ci", "retrain: AP 0.1 …").version
        )
    by_admin = register(registry, dirs[4], "ann")  # registered by hand: never pruned
    card = json.loads((dirs[5] / "card.json").read_text())
    shadowed = registry.register((dirs[5] / "model.txt").read_text(), card, "ci", "retrain: AP 0.2 …").version
    registry.set_state(shadowed, SHADOW, "ci", "retrain: better")  # not a candidate: stays
    assert prune_candidates(registry, 2, "ci") == mine[:2]  # the two oldest of the schedule's four
    assert set(registry.entries()) == {*mine[2:], by_admin, shadowed}
    assert prune_candidates(registry, 0, "ci") == []  # 0 keeps everything
    assert registry.history(1)[0]["action"] == "deleted" and "newest 2" in registry.history(1)[0]["comment"]
