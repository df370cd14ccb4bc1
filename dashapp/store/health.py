"""Pipeline health (bridges, lag, DLQ, freshness, the events outbox) and ground-truth detection quality."""

from __future__ import annotations

from typing import Any

import redis

from common.keys import HEARTBEAT_TTL_S, RedisKeys
from dashapp.store._codec import load_json, opt_float, str_hash, text, to_float, to_int
from dashapp.store.events_health import from_replies, queue_reads
from dashapp.store.metrics import sort_partitions
from dashapp.store.models import (
    BridgeInfo,
    Health,
    Quality,
    RuleQuality,
    ScenarioQuality,
    freshness,
    ratio,
)

MAX_BRIDGES = 64
DLQ_SAMPLES_SHOWN = 10
SAMPLE_CHARS = 200


def _bridge(instance: str, last_beat: float, info: dict[str, str], now_s: float, key: str) -> BridgeInfo:
    parts = load_json(info.get("partitions"), key=key)
    partitions = tuple(sorted(p for p in parts if isinstance(p, int))) if isinstance(parts, list) else ()
    pid = to_int(info.get("pid"), -1, key=key)
    age = max(0.0, now_s - last_beat)
    return BridgeInfo(
        instance=instance,
        alive=age <= HEARTBEAT_TTL_S,
        age_s=round(age, 3),
        processed=to_int(info.get("processed"), key=key),
        partitions=partitions,
        pid=pid if pid >= 0 else None,
        host=info.get("host", ""),
        engine=info.get("engine", "")[: SAMPLE_CHARS * 2],
        model=info.get("model", "")[: SAMPLE_CHARS * 2],
    )


def _sample_line(raw: object, key: str) -> str | None:
    sample = load_json(raw, key=key)
    if not isinstance(sample, dict):
        return None
    line = (
        f"p{sample.get('partition', '?')}@{sample.get('offset', '?')}: {sample.get('reason', '')}"
        f" | {sample.get('preview', '')}"
    )
    return line[:SAMPLE_CHARS]


def read_health(client: redis.Redis, keys: RedisKeys, now_ms: int) -> Health:
    """Read health in two round trips (the second fetches each known bridge's heartbeat hash)."""
    now_s = int(now_ms) / 1000
    pipe = client.pipeline(transaction=False)
    pipe.zrevrange(keys.bridges, 0, MAX_BRIDGES - 1, withscores=True)
    pipe.hgetall(keys.lag)
    pipe.hget(keys.totals, "dlq")
    pipe.hgetall(keys.dlq_reasons)
    pipe.lrange(keys.dlq_samples, 0, DLQ_SAMPLES_SHOWN - 1)
    pipe.get(keys.last_write)
    queue_reads(pipe, keys)
    replies = pipe.execute(raise_on_error=False)
    beats, lag_raw, dlq, reasons_raw, samples, last_write = replies[:6]
    events = from_replies(replies[6:], keys, int(now_ms))
    beats = [(text(m) or "", to_float(s)) for m, s in beats] if isinstance(beats, list) else []
    pipe = client.pipeline(transaction=False)
    for instance, _ in beats:
        pipe.hgetall(keys.bridge(instance))
    infos = [str_hash(h) for h in pipe.execute(raise_on_error=False)] if beats else []
    bridges = tuple(
        _bridge(i, s, info, now_s, keys.bridge(i)) for (i, s), info in zip(beats, infos, strict=True)
    )
    lag = sort_partitions({p: max(0, to_int(v, key=keys.lag)) for p, v in str_hash(lag_raw).items()})
    reasons = {r: to_int(v, key=keys.dlq_reasons) for r, v in sorted(str_hash(reasons_raw).items())}
    lines = [_sample_line(s, keys.dlq_samples) for s in (samples if isinstance(samples, list) else [])]
    last_ms = opt_float(last_write, key=keys.last_write)
    age = None if last_ms is None else max(0.0, (int(now_ms) - last_ms) / 1000)
    return Health(
        bridges=bridges,
        bridges_alive=sum(b.alive for b in bridges),
        lag=lag,
        total_lag=sum(lag.values()),
        dlq_total=to_int(dlq, sum(reasons.values()), key=keys.totals),
        dlq_reasons=reasons,
        dlq_samples=tuple(line for line in lines if line is not None),
        last_write_ms=None if last_ms is None else int(last_ms),
        last_write_age_s=age,
        freshness=freshness(age),
        events=events,
    )


_GROUPS = ("events", "alerted", "tp", "fp", "finished", "finished_caught")


def _split_counts(counts: dict[str, str], key: str) -> dict[str, dict[str, int]]:
    groups: dict[str, dict[str, int]] = {kind: {} for kind in _GROUPS}
    for name, value in counts.items():
        kind, _, label = name.partition(":")
        if kind in groups and label:
            groups[kind][label] = to_int(value, key=key)
    return groups


def read_quality(client: redis.Redis, keys: RedisKeys) -> Quality:
    """Per-rule precision and per-scenario recall over finished instances, in two round trips."""
    groups = _split_counts(str_hash(client.hgetall(keys.eval_counts)), keys.eval_counts)
    rules = tuple(
        RuleQuality(rule, tp, fp, ratio(tp, tp + fp))
        for rule in sorted(set(groups["tp"]) | set(groups["fp"]))
        for tp, fp in [(groups["tp"].get(rule, 0), groups["fp"].get(rule, 0))]
    )
    scenarios = sorted(set(groups["events"]) | set(groups["alerted"]) | set(groups["finished"]))
    if not scenarios:
        return Quality(rules=rules)
    pipe = client.pipeline(transaction=False)
    for scenario in scenarios:  # labels are the known scenarios or "other": a bounded list
        pipe.scard(keys.eval_instances(scenario))
    open_counts: list[Any] = pipe.execute(raise_on_error=False)
    out = []
    for scenario, in_progress in zip(scenarios, open_counts, strict=True):
        finished = max(0, groups["finished"].get(scenario, 0))
        caught = min(finished, max(0, groups["finished_caught"].get(scenario, 0)))
        out.append(
            ScenarioQuality(
                scenario=scenario,
                events=groups["events"].get(scenario, 0),
                alerted_events=groups["alerted"].get(scenario, 0),
                caught=caught,
                missed=finished - caught,
                in_progress=to_int(in_progress),
                recall=ratio(caught, finished),
            )
        )
    return Quality(rules=rules, scenarios=tuple(out))
