"""Section: backtest — a backtest worker's events/s ÷ raw kafka-python consumption of the same topic.

One topic (the bridge section's size, default scenario mix), produced once. Per repetition, side by
side: a group-less kafka-python consumer reads the whole topic (assign, seek to the beginning, poll
until every record is in: the floor any replay pays), then one `python -m backtest worker` process
replays the same records for a draft equal to the live rules (one evaluation per event) and for a
draft with one more custom rule (two rule sets evaluated per event). The backtest's rate is its own
summary: every replayed record (warm-up included) over the seconds from its first poll to its last.
The wall time for 1,000,000 events is extrapolated from the measured rate (the run is linear in
events: per-card state, no growing list).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from backtest.runs import FINISHED, RunStore
from bench import backtest_live, backtest_writes
from bench.bridge_run import write_rules
from bench.feed import dataset
from bench.stack import Context, machine_note, spawn, stop
from bench.stats import ratios, summarize
from bridge import native
from common.rulelang import to_document
from common.rules import default_rules

logger = logging.getLogger(__name__)
EXTRA_RULE = {
    "id": "bench_online_big",
    "score": 0.6,
    "when": {
        "all": [
            {"field": "channel", "op": "eq", "value": "online"},
            {"field": "amount_usd", "op": "gt", "value": 1500},
        ]
    },
    "explain": "online {amount}",
}


def _drafts() -> dict[str, dict[str, Any]]:
    live = to_document(default_rules())  # what write_rules(ml=False) stores: the live set
    more = {**live, "rules": [*live["rules"], EXTRA_RULE]}
    return {"same_as_live": live, "one_more_rule": more}


def _raw(ctx: Context, topic: str, total: int) -> tuple[float, float]:
    """Events/s of a plain assigned consumer reading the whole topic once, and its CPU seconds."""
    consumer = KafkaConsumer(
        bootstrap_servers=ctx.bootstrap,
        enable_auto_commit=False,
        max_poll_records=5_000,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        t0, cpu0 = time.monotonic(), time.process_time()
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got, deadline = 0, t0 + ctx.sizes.timeout_s
        while got < total and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                got += len(records)
        took, cpu = time.monotonic() - t0, time.process_time() - cpu0
    finally:
        consumer.close(autocommit=False)
    if got < total:
        raise RuntimeError(f"bench: raw consumer read {got} of {total}")
    return got / took, cpu


def _backtest(ctx: Context, topic: str, total: int, draft: dict[str, Any], tag: str) -> dict[str, Any]:
    """One worker process, one run over the whole topic; its own rate and seconds."""
    keys = ctx.new_keys(f"bt{tag}")
    write_rules(ctx, keys, ml=False)
    store = RunStore(ctx.redis, keys)
    run_id = store.submit(draft, 1, int(time.time() * 1000) + 60_000, by="bench")
    env = ctx.env(REDIS_KEY_PREFIX=keys.prefix, KAFKA_TOPIC=topic)
    procs = [spawn(["-m", "backtest", "worker", "--max-runs", "1"], env, ctx.out_dir / f"backtest-{tag}.log")]
    try:
        deadline = time.monotonic() + ctx.sizes.timeout_s
        while store.get(run_id)["status"] not in FINISHED and time.monotonic() < deadline:
            time.sleep(0.2)
        run, result = store.get(run_id), store.result(run_id)
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    if run["status"] != "done" or result is None:
        raise RuntimeError(f"bench: backtest {tag} ended {run['status']}: {run['error']}")
    s = result["summary"]
    if s["range_events"] + s["warmup_events"] != total:
        raise RuntimeError(f"bench: backtest {tag} replayed {s['range_events']} of {total}")
    return {"eps": float(s["events_per_s"]), "seconds": float(s["seconds"]), "cpu": float(s["cpu_seconds"])}


def run(ctx: Context) -> dict[str, Any]:
    """Raw consumption and the backtest of two drafts, side by side per repetition."""
    total = ctx.sizes.bridge_events
    before = machine_note()
    topic = dataset(ctx, "bridge", total)
    drafts = _drafts()
    raw: list[float] = []
    raw_cpu: list[float] = []
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in drafts}
    for rep in range(ctx.sizes.reps):
        raw_eps, cpu = _raw(ctx, topic, total)
        raw.append(raw_eps)
        raw_cpu.append(cpu)
        for name, draft in drafts.items():
            runs[name].append(_backtest(ctx, topic, total, draft, f"{name}-{rep}"))
        logger.info(
            "bench: backtest rep=%d raw=%.0f %s ev/s",
            rep + 1,
            raw[-1],
            " ".join(f"{n}={r[-1]['eps']:.0f}" for n, r in runs.items()),
        )
    out: dict[str, Any] = {
        "events": total,
        "raw_consumer_eps": summarize(raw),
        "raw_consumer_cpu_us_per_event": summarize([c / total * 1e6 for c in raw_cpu]),
    }
    for name, rs in runs.items():
        eps = [r["eps"] for r in rs]
        out[name] = {
            "backtest_eps": summarize(eps),
            "ratio_backtest_vs_raw": summarize(ratios(eps, raw)),
            "seconds_per_1m_events_extrapolated": summarize([1e6 / e for e in eps]),
            # CPU per event, all threads: the ratio a machine with no spare core would see
            "cpu_us_per_event": summarize([r["cpu"] / total * 1e6 for r in rs]),
            "cpu_ratio_raw_vs_backtest": summarize(ratios(raw_cpu, [r["cpu"] for r in rs])),
        }
    if native.available():  # the native path's one backtest shortcut, its gain alone
        out["native_writes_skip"] = backtest_writes.measure(
            default_rules(), min(total, 100_000), ctx.sizes.reps
        )
    out["machine"] = {"before": before, "after": machine_note()}
    out["live_while_backtesting"] = backtest_live.measure(ctx, topic, drafts["one_more_rule"])
    out["machine"]["after_live"] = machine_note()
    return out


def table(results: dict[str, Any]) -> str:
    """docs/backtest.md's block: throughput beside raw consumption, and live latency beside a backtest."""
    from bench.report import fmt

    r = results.get("backtest")
    if not r:
        return "(no backtest figures yet: `python -m bench run --only backtest`)"
    meta = results.get("meta", {})
    when = meta.get("section_dates", {}).get("backtest") or meta.get("date", "?")
    raw_cpu = fmt(r.get("raw_consumer_cpu_us_per_event"), 1)
    rows = [
        "| draft | events/s | ÷ raw events/s | 1,000,000 events | CPU µs per event | CPU: raw ÷ backtest |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, label in (("same_as_live", "equal to the live set"), ("one_more_rule", "one rule more")):
        s = r[name]
        rows.append(
            f"| {label} | {fmt(s['backtest_eps'], 0)} | {fmt(s['ratio_backtest_vs_raw'], 2)} "
            f"| {fmt(s['seconds_per_1m_events_extrapolated'], 0)} s | {fmt(s.get('cpu_us_per_event'), 1)} "
            f"| {fmt(s.get('cpu_ratio_raw_vs_backtest'), 2)} |"
        )
    out = [
        f"A backtest worker beside a raw kafka-python consumer reading the same {r['events']:,}-event topic, "
        f"side by side per repetition ({when}, {meta.get('cpus', '?')} shared cores; median (min to max)). "
        f"Raw consumption: {fmt(r['raw_consumer_eps'], 0)} events/s, {raw_cpu} µs of CPU per event.",
        "",
        *rows,
    ]
    skip = r.get("native_writes_skip")
    if skip:
        out += [
            "",
            f"The native path's detect pass without building the rows and card states a backtest never "
            f"writes (`writes=False`, in-process, {skip['events']:,} events): "
            f"{fmt(skip['cpu_us_per_event_without'], 2)} µs of CPU per event against "
            f"{fmt(skip['cpu_us_per_event_with_writes'], 2)} with them; without ÷ with "
            f"{fmt(skip['cpu_ratio_without_vs_with'], 2)}.",
        ]
    live = r.get("live_while_backtesting")
    if live:
        labels = {
            "alone": "no backtest",
            "backtest": "a backtest, default settings",
            f"backtest_nice_{live['nice']}": f"a backtest under `nice -n {live['nice']}`",
            f"backtest_max_eps_{live['cap_eps']}": f"a backtest, `BACKTEST_MAX_EPS={live['cap_eps']}`",
        }
        out += [
            "",
            f"Live end-to-end latency (record time → row in Redis, one bridge) at {live['rate']:,} events/s "
            f"for {live['duration_s']:.0f} s, while a worker replays one-rule-more drafts on the same cores:",
            "",
            "| beside the live stream | p50 ms | p99 ms | p99 ÷ alone | backtest events/s meanwhile |",
            "| --- | --- | --- | --- | --- |",
        ]
        for key, label in labels.items():
            row = live.get(key, {})
            out.append(
                f"| {label} | {fmt(row.get('p50'), 0)} | {fmt(row.get('p99'), 0)} "
                f"| {fmt(row.get('p99_vs_alone'), 2)} | {fmt(row.get('backtest_eps'), 0)} |"
            )
    return "\n".join(out)
