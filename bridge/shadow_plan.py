"""Pure: a batch's shadow findings -> the Redis commands added to the batch's own transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from bridge.batch_types import RecordMeta
from bridge.detection import make_alert
from bridge.resp import Command
from bridge.shadow import Found, ShadowTee
from common.keys import (
    SHADOW_ALERTS_MAX,
    RedisKeys,
    shadow_events_field,
    shadow_fires_field,
    shadow_truth_field,
)
from common.schema import NORMAL_SCENARIO
from common.shadow_doc import ANY_RULE, Pair, encode_pair

# KEYS[1] shadow:alerts (zset), KEYS[2] shadow:pairs (hash); ARGV[1] the cap. Drops the oldest ids
# beyond the cap from both, so the shadow keys stay bounded however long a shadow runs. In chunks:
# Lua's unpack() fails beyond ~8,000 values, and a catch-up batch can put far more over the cap.
TRIM = (
    "local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1]) "
    "if over <= 0 then return 0 end "
    "local left = over "
    "while left > 0 do "
    "local n = math.min(left, 1000) "
    "local old = redis.call('ZRANGE', KEYS[1], 0, n - 1) "
    "redis.call('ZREM', KEYS[1], unpack(old)) redis.call('HDEL', KEYS[2], unpack(old)) "
    "left = left - n end "
    "return over"
)


def pairs_of(
    found: Iterable[Found], metas: Mapping[int, RecordMeta], shadow_id: int, live_version: int
) -> list[Pair]:
    """One Pair per event either set alerted on (alerts built exactly as the live bridge builds them)."""
    out = []
    for event, live, shadow in found:
        meta = metas.get(id(event))
        if meta is None:  # not stored by this batch (a dead letter): nothing to compare
            continue
        out.append(
            Pair(
                shadow=shadow_id,
                record_ms=meta.ts_ms,
                scenario=meta.scenario,
                scenario_id=meta.scenario_id,
                live=make_alert(event, live, live_version) if live.is_alert else None,
                alert=make_alert(event, shadow, shadow_id) if shadow and shadow.is_alert else None,
            )
        )
    return out


def fire_fields(shadow_id: int, pair: Pair) -> list[str]:
    """The exact per-rule counters one pair adds (rule `*`: any): `fires:<id>:<rule>:<live|shadow|both>`,
    and on a labelled event `truth:<id>:<rule>:<live|shadow>:<tp|fp>`."""
    live = {r.rule for r in pair.live.reasons} if pair.live is not None else set()
    shadow = {r.rule for r in pair.alert.reasons} if pair.alert is not None else set()
    if pair.live is not None:
        live.add(ANY_RULE)
    if pair.alert is not None:
        shadow.add(ANY_RULE)
    out = []
    for rule in sorted(live | shadow):
        side = "both" if rule in live and rule in shadow else "live" if rule in live else "shadow"
        out.append(shadow_fires_field(shadow_id, rule) + side)
    if pair.scenario is not None:  # labelled: precision per set from every event, not a sample
        truth = "fp" if pair.scenario == NORMAL_SCENARIO else "tp"
        for name, rules in (("live", live), ("shadow", shadow)):
            out.extend(f"{shadow_truth_field(shadow_id, rule)}{name}:{truth}" for rule in sorted(rules))
    return out


def shadow_commands(
    keys: RedisKeys,
    tee: ShadowTee,
    *,
    metas: Mapping[int, RecordMeta],
    live_version: int,
    events: int,
    cap: int = SHADOW_ALERTS_MAX,
) -> list[Command]:
    """Writes of one batch under the shadow keys only; idempotent per pair, counted once per MULTI."""
    shadow_id = tee.shadow_id
    pairs = pairs_of(tee.found, metas, shadow_id, live_version)
    out: list[Command] = []
    fires: Counter[str] = Counter()
    for pair in pairs:
        aid = (pair.alert or pair.live).alert_id  # type: ignore[union-attr]
        out.append(("HSET", keys.shadow_pairs, aid, encode_pair(pair)))
        out.append(("ZADD", keys.shadow_alerts, pair.record_ms, aid))
        fires.update(fire_fields(shadow_id, pair))
    out.extend(("HINCRBY", keys.shadow_stats, name, n) for name, n in sorted(fires.items()))
    if pairs:
        out.append(("EVAL", TRIM, 2, keys.shadow_alerts, keys.shadow_pairs, cap))
    if events:
        out.append(("HINCRBY", keys.shadow_stats, shadow_events_field(shadow_id), events))
    return out
