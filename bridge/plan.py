"""Pure write-plan builder: one processed batch -> the Redis commands of its atomic transaction."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import msgspec

from bridge.alert_writes import alert_commands, city_commands
from bridge.batch_types import Batch, DeadLetter, Outcome, Scored, Tally
from bridge.resp import Command, bulk_strings, raw_command
from bridge.truth import truth_commands
from common.alerts import Alert
from common.keys import DLQ_SAMPLES_MAX, RECENT_TXNS_MAX, SECOND_BUCKET_TTL_S, RedisKeys
from common.schema import NORMAL_SCENARIO

_json = msgspec.json.Encoder()


_ALERT_FLAG = {True: b',"alert":true,"score":', False: b',"alert":false,"score":'}
_SEVERITY: dict[str, bytes] = {}  # severity -> b',"severity":"high","rt":' (a handful of values)
_SCORES: dict[float, bytes] = {}  # rounded score -> JSON (quiet events all score 0.0)


def txn_row(item: Scored) -> bytes:
    """JSON of the `txns` stream field `d`: the event's fields plus alert, score, severity, rt."""
    # Hot path (every event): one msgspec encode, the verdict fields from small memo tables.
    score = round(item.score, 4)
    score_json = _SCORES.get(score)
    if score_json is None:
        score_json = _json.encode(score)
        if len(_SCORES) < 4096:
            _SCORES[score] = score_json
    severity = _SEVERITY.get(item.severity)
    if severity is None:
        severity = b',"severity":%s,"rt":' % _json.encode(item.severity)
        if len(_SEVERITY) < 64:
            _SEVERITY[item.severity] = severity
    return b"%s%s%s%s%d}" % (
        _json.encode(item.event)[:-1],
        _ALERT_FLAG[item.alert is not None],
        score_json,
        severity,
        item.meta.ts_ms,
    )


class _Counters:
    """Per-batch aggregation so each distinct hash field costs one command."""

    def __init__(self) -> None:
        self.ints: dict[str, Counter[str]] = defaultdict(Counter)
        self.cents: dict[str, int] = defaultdict(int)  # hash key -> amount in cents (exact sums)

    def add(self, key: str, field: str, n: int = 1) -> None:
        self.ints[key][field] += n

    def commands(self) -> list[Command]:
        out: list[Command] = []
        for key, fields in self.ints.items():
            out.extend(("HINCRBY", key, f, n) for f, n in fields.items() if n)
        out.extend(("HINCRBYFLOAT", key, "amount", c / 100) for key, c in self.cents.items() if c)
        return out


def tally_scored(items: list[Scored], rates: Mapping[str, float]) -> Tally:
    """Aggregate scored events (the reference the native engine's tally is tested against).

    Amounts are summed in US dollars at `rates` (the rules' `currency` table, US dollars per unit),
    as the amount rules compare them; a currency without a rate counts as it is (rate 1.0).
    """
    # Hot loop (every event) on the Python path: plain dict updates grouped by second.
    txns: Counter[int] = Counter()
    cents: Counter[int] = Counter()
    cities: Counter[str] = Counter()
    scenarios: Counter[str] = Counter()
    geo: dict[str, tuple[float, float, str | None]] = {}
    for item in items:
        ev, meta = item.event, item.meta
        sec = meta.ts_ms // 1000
        txns[sec] += 1
        # amount * rate * 100 rounded half to even: the native tally does exactly these operations
        cents[sec] += round(ev.amount * rates.get(ev.currency, 1.0) * 100)
        cities[ev.city] += 1
        if ev.lat is not None and ev.lon is not None:
            geo[ev.city] = (ev.lat, ev.lon, ev.country)
        if meta.scenario is not None:
            scenarios[meta.scenario] += 1
    seen: dict[str, list[str]] = defaultdict(list)
    finished: list[tuple[str, str]] = []
    for item in items:
        scenario, sid = item.meta.scenario, item.meta.scenario_id
        if scenario is not None and sid is not None and scenario != NORMAL_SCENARIO:
            seen[scenario].append(sid)
            if item.meta.last:
                finished.append((scenario, sid))
    return Tally(
        [(sec, n, cents[sec]) for sec, n in sorted(txns.items())],
        list(cities.items()),
        [(city, *where) for city, where in geo.items()],
        list(scenarios.items()),
        list(seen.items()),
        [txn_row(x) for x in items[-RECENT_TXNS_MAX:]],
        finished,
    )


def _count_tally(keys: RedisKeys, c: _Counters, tally: Tally) -> None:
    for sec, n, cents in tally.seconds:
        key = keys.second(sec)
        c.add(key, "txns", n)
        c.add(keys.totals, "txns", n)
        c.cents[key] += cents
        c.cents[keys.totals] += cents
    for scenario, n in tally.scenarios:
        c.add(keys.eval_counts, f"events:{scenario}", n)


def _count_alerts(keys: RedisKeys, c: _Counters, alerted: Iterable[Scored]) -> None:
    for item in alerted:
        assert item.alert is not None
        _count_alert(keys, c, item.alert, keys.second(item.meta.ts_ms // 1000))  # cities: city_commands
        if item.meta.scenario is not None:
            _count_truth(keys, c, item.meta.scenario, item.alert)


def _count_alert(keys: RedisKeys, c: _Counters, alert: Alert, sec_key: str) -> None:
    for key in (keys.totals, sec_key):
        c.add(key, "alerts")
        for reason in alert.reasons:
            c.add(key, f"alerts:{reason.rule}")


def _count_truth(keys: RedisKeys, c: _Counters, scenario: str, alert: Alert) -> None:
    c.add(keys.eval_counts, f"alerted:{scenario}")
    outcome = "fp" if scenario == NORMAL_SCENARIO else "tp"
    for reason in alert.reasons:
        c.add(keys.eval_counts, f"{outcome}:{reason.rule}")


def _truth_sets(keys: RedisKeys, tally: Tally, alerted: Iterable[Scored]) -> list[Command]:
    caught: dict[str, set[str]] = defaultdict(set)
    for item in alerted:
        scenario, sid = item.meta.scenario, item.meta.scenario_id
        if scenario is not None and sid is not None and scenario != NORMAL_SCENARIO:
            caught[scenario].add(sid)
    return truth_commands(keys, tally.instances, caught, tally.finished)


# One command for the whole batch instead of one per row: a batch of 1,000 events used to carry
# ~1,800 XADD/SET commands, each with its own QUEUED and EXEC reply to parse on the client.
# Scripts run inside the MULTI like any command; EVAL (not EVALSHA) so a flushed script cache can
# never turn into a NOSCRIPT error halfway through an EXEC.
XADD_ROWS = (
    "for i = 2, #ARGV do redis.call('XADD', KEYS[1], '*', 'd', ARGV[i]) end "
    "return redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])"
)
SET_STATES = (
    "for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1]) end return #KEYS"
)


def _dead_commands(keys: RedisKeys, c: _Counters, dead: list[DeadLetter]) -> list[Command]:
    for d in dead:
        c.add(keys.dlq_reasons, d.reason_class)
        c.add(keys.totals, "dlq")
        c.add(keys.second(d.meta.ts_ms // 1000), "dlq")
    samples = [
        _json.encode(
            {"partition": d.meta.partition, "offset": d.meta.offset, "reason": d.reason, "preview": d.preview}
        )
        for d in dead[-DLQ_SAMPLES_MAX:]
    ]
    if not samples:
        return []
    return [("LPUSH", keys.dlq_samples, *samples), ("LTRIM", keys.dlq_samples, 0, DLQ_SAMPLES_MAX - 1)]


def outcome_of(batch: Batch, rates: Mapping[str, float]) -> Outcome:
    """Aggregate a batch of per-event results (the Python path); amounts in dollars at `rates`."""
    alerted = [x for x in batch.scored if x.alert is not None]
    return Outcome(
        tally_scored(batch.scored, rates),
        alerted,
        batch.dead,
        batch.states,
        batch.next_offsets,
        len(batch.scored),
    )


def build_plan(
    keys: RedisKeys,
    topic: str,
    batch: Batch,
    now_ms: int,
    card_ttl_s: int,
    *,
    rates: Mapping[str, float] | None = None,
) -> list[Command]:
    """Return every write of one batch of per-event results (see plan_outcome); without `rates`
    (tests and tools), amounts are summed as they are."""
    return plan_outcome(keys, topic, outcome_of(batch, rates or {}), now_ms, card_ttl_s)


def plan_outcome(keys: RedisKeys, topic: str, batch: Outcome, now_ms: int, card_ttl_s: int) -> list[Command]:
    """Return every write of one batch, counters aggregated, lists bounded, offsets last."""
    c, tally = _Counters(), batch.tally
    _count_tally(keys, c, tally)
    _count_alerts(keys, c, batch.alerted)
    out = _dead_commands(keys, c, batch.dead)
    out.extend(c.commands())
    seconds = {keys.second(sec) for sec, _, _ in tally.seconds}
    seconds.update(keys.second(d.meta.ts_ms // 1000) for d in batch.dead)
    out.extend(("EXPIRE", key, SECOND_BUCKET_TTL_S) for key in sorted(seconds))
    alerts = [x.alert for x in batch.alerted if x.alert is not None]
    out.extend(city_commands(keys, tally.cities, tally.geo, alerts))
    recent = tally.rows[-RECENT_TXNS_MAX:]
    if recent:
        out.append(("EVAL", XADD_ROWS, 1, keys.txns, RECENT_TXNS_MAX, *recent))
    packed = batch.packed
    if packed is not None and packed.row_count:
        head = bulk_strings(("EVAL", XADD_ROWS, 1, keys.txns, RECENT_TXNS_MAX))
        out.append(raw_command(5 + packed.row_count, head, packed.rows))
    out.extend(alert_commands(keys, alerts, now_ms))
    out.extend(_truth_sets(keys, tally, batch.alerted))
    if packed is not None and packed.state_count:
        n = packed.state_count
        head, ttl = bulk_strings(("EVAL", SET_STATES, n)), bulk_strings((card_ttl_s,))
        out.append(raw_command(4 + 2 * n, head, packed.state_keys, ttl, packed.state_values))
    if batch.states:
        card_key = keys.card_state
        cards = list(batch.states)
        out.append(
            (
                "EVAL",
                SET_STATES,
                len(cards),
                *[card_key(c) for c in cards],
                card_ttl_s,
                *batch.states.values(),
            )
        )
    if batch.next_offsets:
        flat = [x for p, o in sorted(batch.next_offsets.items()) for x in (p, o)]
        out.append(("HSET", keys.offsets(topic), *flat))
    out.append(("INCR", keys.seq))
    out.append(("SET", keys.last_write, now_ms))
    return out
