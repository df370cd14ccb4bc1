"""The backtest worker: take queued runs one at a time, replay each, record progress and the result."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import Any

import redis
from kafka.errors import KafkaError

from backtest.compare import Comparison
from backtest.engine import DRAFT_VERSION, Progress, Sides, run_plan, summary, warmup_ms
from backtest.model_scores import ScoringWatch, range_scores, reads_model_score
from backtest.native_pair import NativePair
from backtest.replay import Prefetch, RangeError, make_consumer, replay, resolve
from backtest.runs import CANCELLED, DONE, FAILED, RunNotFound, RunStore
from backtest.settings import BacktestSettings
from backtest.throttle import poll_records, throttled
from bridge.rules_watch import RulesWatcher
from common.keys import RedisKeys
from common.rulelang import parse_document
from common.rules import RuleValidationError
from model.topics import ReadCancelled

logger = logging.getLogger(__name__)
SWITCH_S = 0.0005  # the worker's GIL switch interval with the read-ahead thread (Python's default: 5 ms)
REPORT_S = 0.5  # progress (and the cancel flag) every half second: a cancel lands within a second


def time_range(spec: dict[str, Any], default_range_s: int, now_ms: int) -> tuple[int, int]:
    """The run's [from_ms, to_ms): defaults to the last `default_range_s` up to now."""
    to_ms = spec.get("to_ms") or now_ms
    from_ms = spec.get("from_ms") or to_ms - default_range_s * 1000
    return int(from_ms), int(to_ms)


def _model_scores(
    store: RunStore,
    run_id: str,
    settings: BacktestSettings,
    *,
    client: redis.Redis,
    keys: RedisKeys,
    span: tuple[int, int],
    version: str | None,
    stopping: threading.Event,
    readers: tuple[Sides, NativePair | None],
) -> dict[str, Any] | None:
    """Score the span with the model (the champion when `version` is None) for the rules that read
    `model_score` (`readers`), its progress reported as the run's. Returns what the summary says of
    it, or None when the run was cancelled meanwhile (then finished as such here)."""
    watch = ScoringWatch(lambda body: store.report(run_id, body), REPORT_S, stopping.is_set, settings.max_eps)
    try:
        scores, said = range_scores(settings, client, keys, span, version, watch=watch)
    except ReadCancelled:
        store.finish(run_id, CANCELLED, error=None if watch.stop else "stopped by the worker's shutdown")
        logger.info("backtest: run=%s cancelled while the model scored the range", run_id)
        return None
    if scores is not None:
        for reader in readers:
            if reader is not None:
                reader.use_scores(scores)
    return said


def execute(
    store: RunStore,
    run_id: str,
    settings: BacktestSettings,
    *,
    client: redis.Redis,
    keys: RedisKeys,
    stopping: threading.Event,
) -> str:
    """Run one claimed backtest to its end; return its final status (the store has it too)."""
    try:
        spec = store.get(run_id)["spec"]
    except RunNotFound:
        return CANCELLED
    watcher = RulesWatcher(client, keys)
    watcher.refresh()  # reads the published rules and lists; never seeds or writes
    try:
        draft = parse_document(spec["draft"], known_lists=list(watcher.lists))
    except RuleValidationError as exc:
        store.finish(run_id, FAILED, error=f"draft rules: {exc}")
        return FAILED
    from_ms, to_ms = time_range(spec, settings.default_range_s, int(time.time() * 1000))
    warm = warmup_ms(watcher.detector.rules, draft, settings.warmup_min_s, settings.warmup_max_s)
    consumer = make_consumer(
        settings.kafka_bootstrap_servers, poll_records(settings.batch_max, settings.max_eps)
    )
    try:
        plan = resolve(consumer, settings.kafka_topic, from_ms, to_ms, warmup_ms=warm)
        sides = Sides.build(watcher.detector, watcher.version, draft)
        native = None
        if settings.engine == "auto":
            native = NativePair.build(
                watcher.detector,
                watcher.version,
                draft,
                draft_version=DRAFT_VERSION,
                max_bytes=settings.max_record_bytes,
                records=plan.total + plan.warm_total,
            )
        model = None
        if reads_model_score(watcher.detector.rules, draft):  # the model scores the range first
            model = _model_scores(
                store, run_id, settings, client=client, keys=keys, span=(plan.from_ms, plan.to_ms),
                version=spec.get("model"), stopping=stopping, readers=(sides, native),
            )  # fmt: skip
            if model is None:
                return CANCELLED
        comparison = Comparison(settings.sample_max, settings.instances_max)
        progress = Progress(plan.total + plan.warm_total, lambda body: store.report(run_id, body), REPORT_S)
        logger.info(
            "backtest: run=%s range=[%d, %d) events=%d warmup=%d draft_equals_live=%s",
            run_id, from_ms, to_ms, plan.total, plan.warm_total, sides.same,
        )  # fmt: skip
        cpu_started = time.process_time()

        def stop() -> bool:
            return progress.stop or stopping.is_set()

        with Prefetch(replay(consumer, plan, stop), settings.prefetch) as ahead:
            counts = run_plan(
                throttled(iter(ahead), settings.max_eps, stop),
                sides,
                comparison,
                client=client,
                keys=keys,
                max_record_bytes=settings.max_record_bytes,
                native=native,
                on_batch=progress,
            )
        progress(counts, final=True)
    except RangeError as exc:
        store.finish(run_id, FAILED, error=str(exc))
        return FAILED
    finally:
        consumer.close(autocommit=False)
    if progress.stop or stopping.is_set():
        why = None if progress.stop else "stopped by the worker's shutdown"
        store.finish(run_id, CANCELLED, error=why)
        return CANCELLED
    result = comparison.result()
    seconds = time.monotonic() - progress.started
    cards = (native or sides).cards()
    cpu = time.process_time() - cpu_started  # every thread of the worker: replay and evaluation
    result["summary"] = summary(
        plan, counts, sides, seconds, cards=cards, native=native is not None, cpu_seconds=cpu, model=model
    )
    store.finish(run_id, DONE, result)
    logger.info("backtest: run=%s done events=%d in %.1fs", run_id, counts.done, result["summary"]["seconds"])
    return DONE


def serve(settings: BacktestSettings, stopping: threading.Event, max_runs: int | None = None) -> int:
    """Take runs off the queue until `stopping` (or `max_runs` runs); return how many ran."""
    if settings.prefetch:
        # The replay thread decodes records in Python while the evaluation enters and leaves native
        # code (GIL released) a few times per batch; each re-entry waits for the switch interval, so
        # a shorter one keeps the evaluation from idling behind the decoder (measured: bench backtest).
        sys.setswitchinterval(SWITCH_S)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    keys = RedisKeys(settings.redis_key_prefix)
    store = RunStore(client, keys)
    ran = 0
    try:
        while not stopping.is_set() and (max_runs is None or ran < max_runs):
            try:
                run_id = store.claim(timeout_s=1.0)
            except redis.RedisError as exc:
                logger.warning("backtest: redis unavailable error=%s", exc)
                stopping.wait(1.0)
                continue
            if run_id is None:
                continue
            ran += 1
            try:
                execute(store, run_id, settings, client=client, keys=keys, stopping=stopping)
            except (KafkaError, redis.RedisError, OSError, ValueError) as exc:
                logger.exception("backtest: run=%s failed", run_id)
                with contextlib.suppress(redis.RedisError):
                    store.finish(run_id, FAILED, error=f"{type(exc).__name__}: {exc}")
    finally:
        client.close()
    return ran
