"""The native path (fraud_native via bridge.native) gives exactly the Python path's results per batch."""

from __future__ import annotations

import json
import math
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.consumer.fetcher import ConsumerRecord

from bridge.batch_engines import PythonEngine
from bridge.batch_types import Packed, Polled, Scored, Tally
from bridge.detection import CardState, Decision, Detector, decode_state, encode_state
from bridge.native import NativePath
from bridge.state_cache import StateCache
from common.keys import RECENT_TXNS_MAX
from common.rules import RulesConfig, apply_changes, default_rules
from common.schema import (
    HEADER_SCENARIO,
    HEADER_SCENARIO_ID,
    HEADER_SCENARIO_LAST,
    Transaction,
    format_ts,
)
from producer import SCENARIOS, GeneratedEvent, generate
from tests.native_gate import needs_native

pytestmark = needs_native()  # skipped without the extension, except in CI

MAX_BYTES = 2048
VERSION = 7
PREFIX = "t:card:"
T0 = 1_796_000_000_000  # 2026-11-30T00:53:20Z, an ordinary event time in ms
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_json = msgspec.json.Encoder()


# --- records -----------------------------------------------------------------------------------
def record(
    value: bytes | None, *, offset: int = 0, partition: int = 0, ts_ms: int = T0, headers: Any = ()
) -> ConsumerRecord:
    """A ConsumerRecord as kafka-python hands it to the bridge."""
    size = -1 if value is None else len(value)
    headers = list(headers) if headers is not None else None
    return ConsumerRecord(
        "transactions", partition, -1, offset, ts_ms, 0, b"k", value, headers, None, 1, size, -1
    )


def as_records(events: Iterable[GeneratedEvent]) -> list[ConsumerRecord]:
    """Generated events keyed onto 3 partitions (by card, as the producer keys them), in order."""
    offsets: Counter[int] = Counter()
    out = []
    for ev in events:
        p = zlib.crc32(ev.key) % 3
        out.append(record(ev.value, offset=offsets[p], partition=p, ts_ms=ev.ts_ms + 3, headers=ev.headers))
        offsets[p] += 1
    return out


def batches(
    records: Sequence[ConsumerRecord], sizes: Sequence[int] = (250, 400, 333, 500)
) -> list[list[Any]]:
    out, at, k = [], 0, 0
    while at < len(records):
        out.append(list(records[at : at + sizes[k % len(sizes)]]))
        at += sizes[k % len(sizes)]
        k += 1
    return out


def event_json(card: str, amount: str, lat: str, lon: str, ts_ms: int) -> bytes:
    return (
        f'{{"txn_id":"t-{ts_ms}-{card}","ts":"{canonical_ts(ts_ms)}","card_id":"{card}","account_id":"A1",'
        f'"amount":{amount},"currency":"EUR","merchant_id":"M1","merchant_category":"food","city":"Paris",'
        f'"country":"FR","lat":{lat},"lon":{lon},"channel":"pos"}}'
    ).encode()


def canonical_ts(ms: int) -> str:
    return format_ts(EPOCH + timedelta(milliseconds=ms))


# --- comparable results ------------------------------------------------------------------------
class Seen(NamedTuple):
    """One batch's writes in a form equal across paths exactly when the Redis writes are."""

    seconds: list[tuple[int, int, int]]
    cities: dict[str, int]
    geo: dict[str, bytes]  # city -> the JSON written (so -0.0 and 0.0 differ)
    scenarios: dict[str, int]
    instances: dict[str, set[str]]
    finished: list[tuple[str, str]]  # (scenario, id) of instances whose last event was in the batch
    rows: list[bytes]
    alerted: list[Scored]
    rejected: list[tuple[Any, Any]]
    states: dict[str, CardState]  # as decode_state() reads them back
    state_bytes: dict[str, bytes]  # as written
    scored: int


class Raised(NamedTuple):
    """A batch whose processing raised."""

    error: str


def summed(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for key, n in pairs:
        out[key] += n  # a repeated field is HINCRBY'd twice: the sum is what Redis ends up with
    return dict(out)


def seen(
    tally: Tally, alerted: list[Scored], rejected: list[Polled], states: dict[str, bytes], scored: int
) -> Seen:
    return Seen(
        sorted(tally.seconds),
        summed(tally.cities),
        {city: _json.encode([lat, lon, country]) for city, lat, lon, country in tally.geo},
        summed(tally.scenarios),
        {s: set(ids) for s, ids in tally.instances if ids},
        sorted(tally.finished),
        list(tally.rows[-RECENT_TXNS_MAX:]),
        list(alerted),
        [(p.meta, p.result) for p in rejected],
        {card: decode_state(raw) for card, raw in states.items()},
        dict(states),
        scored,
    )


def bulk_strings(buf: bytes, count: int) -> list[bytes]:
    """Split concatenated RESP bulk strings ($n\\r\\n...\\r\\n)."""
    out, at = [], 0
    while at < len(buf):
        assert buf[at : at + 1] == b"$", buf[at : at + 20]
        eol = buf.index(b"\r\n", at)
        n, start = int(buf[at + 1 : eol]), eol + 2
        assert buf[start + n : start + n + 2] == b"\r\n"
        out.append(buf[start : start + n])
        at = start + n + 2
    assert len(out) == count
    return out


def unpacked(tally: Tally, packed: Packed | None) -> tuple[Tally, dict[str, bytes]]:
    """The packed form's rows and states (RESP bulk strings, state keys prefixed) as plain bytes."""
    assert packed is not None
    rows = bulk_strings(packed.rows, packed.row_count)
    keys = [k.decode()[len(PREFIX) :] for k in bulk_strings(packed.state_keys, packed.state_count)]
    states = dict(zip(keys, bulk_strings(packed.state_values, packed.state_count), strict=True))
    return tally._replace(rows=rows), states


def first_difference(a: Any, b: Any) -> str:
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return f"[{i}] python={x!r}\n native={y!r}"
        return f"python has {len(a)} items, native {len(b)}"
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys(), key=repr):
            if a.get(key) != b.get(key):
                return f"[{key!r}] python={a.get(key)!r}\n native={b.get(key)!r}"
    return f"python={a!r}\n native={b!r}"


def assert_same(py: Seen | Raised, nat: Seen | Raised, where: str) -> None:
    if isinstance(py, Raised) or isinstance(nat, Raised):
        assert nat == py, where
        return
    for field in Seen._fields:
        a, b = getattr(py, field), getattr(nat, field)
        assert a == b, f"{where}: {field} differs: {first_difference(a, b)}"


# --- the two paths -------------------------------------------------------------------------------
class CountingDetector(Detector):
    """A Detector counting its evaluations (on the native side: the events Python decided)."""

    calls = 0

    def evaluate(self, event: Transaction, state: CardState | None) -> tuple[Decision, CardState]:
        self.calls += 1
        return super().evaluate(event, state)


class Paths:
    """Both paths side by side, each with its own cache, reading one emulated Redis.

    `redis` holds card states as stored bytes; after each batch it gets the Python side's states
    (the reference), so both paths read the same stored state whenever their caches miss.
    """

    def __init__(self, rules: RulesConfig, *, cache_max: int = 100_000, packed: bool = False) -> None:
        self.py_detector, self.nat_detector = Detector(rules), CountingDetector(rules)
        self.cache = StateCache(cache_max)
        self.py_engine = PythonEngine(self.cache, MAX_BYTES)
        self.native = NativePath(rules, MAX_BYTES, cache_max)
        self.packed = packed
        self.redis: dict[str, bytes] = {}
        self.loaded = 0  # cards the native side asked Redis for
        self.scored = self.alerts = self.dead = 0

    def set_rules(self, rules: RulesConfig) -> None:
        self.py_detector, self.nat_detector = Detector(rules), CountingDetector(rules)
        self.native.set_rules(rules)

    def drop_partitions(self, partitions: list[int]) -> None:
        self.cache.drop_partitions(partitions)
        self.native.drop_partitions(partitions)

    def clear(self) -> None:
        self.cache.clear()
        self.native.clear()

    def python(self, batch: list[Any]) -> Seen | Raised:
        """The bridge's own Python engine (bridge/batch_engines.py), over this emulated Redis."""
        try:
            loaded = {c: self.redis.get(c) for c in self.py_engine.scan(batch)}
            decided = self.py_engine.decide(batch, self.py_detector, VERSION, loaded)
        except Exception as exc:
            return Raised(f"{type(exc).__name__}: {exc}")
        self.py_engine.keep()
        out = decided.outcome
        return seen(out.tally, out.alerted, decided.rejected, dict(out.states), out.scored)

    def run_native(self, batch: list[Any]) -> Seen | Raised:
        try:
            missing = self.native.scan(batch)
            self.loaded += len(missing)
            loaded = {c: self.redis.get(c) for c in missing}
            if not self.packed:
                res = self.native.detect(batch, self.nat_detector, VERSION, loaded)
                tally, states = res.tally, res.states
            else:
                res = self.native.detect(batch, self.nat_detector, VERSION, loaded, state_key_prefix=PREFIX)
                assert not res.tally.rows and not res.states
                tally, states = unpacked(res.tally, res.packed)
        except Exception as exc:
            return Raised(f"{type(exc).__name__}: {exc}")
        self.native.commit()
        return seen(tally, res.alerted, res.rejected, states, res.scored)

    def step(self, batch: list[Any], where: str) -> Seen | Raised:
        """Run one batch through both paths and assert they agree; return the Python result."""
        nat = self.run_native(batch)
        py = self.python(batch)
        assert_same(py, nat, where)
        if isinstance(py, Seen):
            self.redis.update((c, encode_state(s)) for c, s in py.states.items())
            self.scored += py.scored
            self.alerts += len(py.alerted)
            self.dead += len(py.rejected)
        return py


def run(paths: Paths, groups: list[list[Any]], between: Callable[[int, Paths], None] | None = None) -> Paths:
    for k, batch in enumerate(groups):
        if between is not None:
            between(k, paths)
        paths.step(batch, f"batch {k}")
    return paths


# --- 1. the producer's default mix -------------------------------------------------------------
@pytest.fixture(scope="module")
def mix() -> list[ConsumerRecord]:
    return as_records(generate(seed=11, count=20_000))


def test_default_mix_matches_the_python_path(mix: list[ConsumerRecord]) -> None:
    paths = run(Paths(default_rules()), batches(mix))
    assert paths.scored == len(mix) and paths.alerts > 100
    # both engines really took part: Python decided the possible alerts, native the quiet rest
    assert paths.alerts <= paths.nat_detector.calls < len(mix) // 4


def test_packed_rows_and_states_match_the_python_path(mix: list[ConsumerRecord]) -> None:
    """The service's form: rows and states as RESP bulk strings (state keys prefixed)."""
    paths = run(Paths(default_rules(), packed=True), batches(mix[:8_000]))
    assert paths.scored == 8_000 and paths.alerts > 30


# --- 2. each fraud scenario alone, at a high fraud ratio -------------------------------------------
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_alone_matches(scenario: str) -> None:
    events = generate(
        seed=5, count=2_000, fraud_ratio=0.6, scenarios={scenario: 1.0}, n_cards=300, sim_rate=2.0
    )
    assert sum(ev.scenario == scenario for ev in events) > 100
    paths = run(Paths(default_rules()), batches(as_records(events), (250, 170)))
    assert paths.alerts > 0 and 0 < paths.nat_detector.calls < paths.scored


# --- 3. rule variations ------------------------------------------------------------------------
def rules_with(changes: dict[str, dict[str, Any]]) -> RulesConfig:
    return apply_changes(default_rules(), changes)


def unchecked(rule: str, **fields: Any) -> RulesConfig:
    """Rules outside the editor's ranges (the engine must still agree with itself)."""
    base = default_rules()
    return msgspec.structs.replace(base, **{rule: msgspec.structs.replace(getattr(base, rule), **fields)})


@pytest.fixture(scope="module")
def varied() -> list[ConsumerRecord]:
    return as_records(generate(seed=23, count=2_000, fraud_ratio=0.15, n_cards=300))


def busiest_city(records: Sequence[ConsumerRecord]) -> str:
    return Counter(msgspec.json.decode(r.value)["city"] for r in records).most_common(1)[0][0]


RULES_OFF = [
    r
    for r in default_rules().__struct_fields__
    if r not in ("ml_anomaly", "alerting", "currency", "custom", "suppressions")
]
EXTREMES: dict[str, Callable[[str], RulesConfig]] = {
    "high_amount_1": lambda _: rules_with({"high_amount": {"threshold": 1}}),
    "velocity_2_always": lambda _: rules_with({"velocity": {"max_count": 2, "max_chance": 1.0}}),
    "velocity_sum_1": lambda _: rules_with({"velocity": {"max_sum": 1, "window_s": 3600}}),
    "travel_everywhere": lambda _: rules_with(
        {"impossible_travel": {"min_distance_km": 0, "max_speed_kmh": 10}}
    ),
    "card_testing_1": lambda _: rules_with(
        {"card_testing": {"min_tiny": 1, "min_merchants": 1, "tiny_below": 100, "large_at_least": 1}}
    ),
    "amount_anomaly_history_1": lambda _: unchecked("amount_anomaly", min_history=1),
    "amount_anomaly_eager": lambda _: unchecked(
        "amount_anomaly", min_history=1, multiplier=1.0, min_z=0.0, min_amount=0.0
    ),
    "deny_busiest_city": lambda city: rules_with({"unknown_location": {"deny_cities": [city]}}),
    "no_missing_coords": lambda _: rules_with({"unknown_location": {"flag_missing_coords": False}}),
    "alert_on_anything": lambda _: rules_with(
        {"alerting": {"min_score": 0, "medium_score": 0, "high_score": 0}}
    ),
    "alert_on_nothing": lambda _: rules_with(
        {"alerting": {"min_score": 1, "medium_score": 1, "high_score": 1}}
    ),
}


@pytest.mark.parametrize("rule", RULES_OFF)
def test_each_rule_disabled_matches(varied: list[ConsumerRecord], rule: str) -> None:
    paths = run(Paths(rules_with({rule: {"enabled": False}})), batches(varied, (300,)))
    assert 0 < paths.nat_detector.calls < paths.scored


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_extreme_parameters_match(varied: list[ConsumerRecord], name: str) -> None:
    paths = run(Paths(EXTREMES[name](busiest_city(varied))), batches(varied, (300,)))
    assert paths.scored + paths.dead == len(varied) and paths.nat_detector.calls > 0
    if name == "amount_anomaly_eager":  # n == 1 once divided by zero: detector_error dead letters
        assert paths.dead == 0


def test_rules_changed_between_batches_match(varied: list[ConsumerRecord]) -> None:
    cycle = [
        default_rules(),
        EXTREMES["velocity_2_always"](""),
        rules_with({"high_amount": {"enabled": False}}),
    ]
    run(Paths(default_rules()), batches(varied, (200,)), lambda k, p: p.set_rules(cycle[k % len(cycle)]))


# --- 4. states loaded from "Redis" -------------------------------------------------------------
def _edit(raw: bytes, fn: Callable[[list[Any]], Any]) -> bytes:
    body = json.loads(raw)
    out = fn(body)
    return json.dumps(body if out is None else out, separators=(",", ":")).encode()


def _set(index: int, value: Any) -> Callable[[bytes], bytes]:
    return lambda raw: _edit(raw, lambda b: b.__setitem__(index, value))


def _as_ints(body: list[Any]) -> None:
    for i in (3, 4, 13, 14):  # lat, lon, log_mean, log_m2
        if isinstance(body[i], float):
            body[i] = round(body[i])
    body[7] = [round(x) for x in body[7]]  # recent_amt


STORED: dict[str, Callable[[bytes], bytes | None]] = {
    "valid": lambda raw: raw,
    "missing": lambda raw: None,
    "empty": lambda raw: b"",
    "garbage": lambda raw: b"\x00\xffnot json",
    "truncated": lambda raw: raw[:-7],
    "not_an_array": lambda raw: b'{"last_ms": 1}',
    "other_tag": lambda raw: raw.replace(b'"cs1"', b'"cs0"', 1),
    "tag_only": lambda raw: b'["cs1"]',
    "short": lambda raw: _edit(raw, lambda b: b[:6]),
    "extra_element": lambda raw: _edit(raw, lambda b: [*b, 1]),
    "recent_length_mismatch": lambda raw: _edit(raw, lambda b: b.__setitem__(7, [*b[7], 1.0])),
    "tiny_length_mismatch": lambda raw: _edit(raw, lambda b: b.__setitem__(9, [*b[9], 7])),
    "lat_without_lon": _set(4, None),
    "negative_n": _set(12, -1),
    "negative_m2": _set(14, -0.5),
    "recent_too_long": lambda raw: _edit(raw, lambda b: [*b[:6], [T0] * 65, [1.0] * 65, *b[8:]]),
    "ints_for_floats": lambda raw: _edit(raw, _as_ints),
    "float_for_int": _set(1, float(T0)),
    "string_for_int": _set(11, "3"),
    "bool_for_int": _set(11, True),
    "pretty_printed": lambda raw: json.dumps(json.loads(raw), indent=2).encode(),
    "escaped_city": _set(5, 'Z\u00fcrich \u2028 "q" \\ \u0001'),
    "huge_last_ms": _set(1, 2**63),
    "huge_seen": _set(11, 2**64 - 1),
    "huge_merchant": lambda raw: _edit(raw, lambda b: [*b[:8], [T0], [2**63], *b[10:]]),
    "number_out_of_range": lambda raw: _set(13, "@")(raw).replace(b'"@"', b"1e400"),
    "huge_m2": _set(14, 1.7e308),
}


@pytest.fixture(scope="module")
def history() -> tuple[list[ConsumerRecord], dict[str, bytes]]:
    """A stream's first part run through the Python path (stored states), and its next batch."""
    events = generate(seed=31, count=3_000, fraud_ratio=0.2, n_cards=150)
    records = as_records(events)
    paths = run(Paths(default_rules()), batches(records[:2_600], (400,)))
    return records[2_600:], paths.redis


@pytest.mark.parametrize("variant", sorted(STORED))
def test_stored_states_are_read_alike(
    history: tuple[list[ConsumerRecord], dict[str, bytes]], variant: str
) -> None:
    batch, stored = history
    paths = Paths(default_rules())
    edit = STORED[variant]
    paths.redis = {c: e for c, raw in stored.items() if (e := edit(raw)) is not None}
    paths.step(batch, variant)
    assert paths.scored > 300


def test_state_with_invalid_utf8_fails_alike(history: tuple[list[ConsumerRecord], dict[str, bytes]]) -> None:
    batch, stored = history
    paths = Paths(default_rules())
    bad = {c: _set(5, "@")(raw).replace(b'"@"', b'"\xff"') for c, raw in stored.items()}
    paths.redis = {c: bad[c] if k % 2 else raw for k, (c, raw) in enumerate(stored.items())}
    paths.step(batch, "invalid utf-8")


# --- 5. generated record values around valid events --------------------------------------------
POOL = [msgspec.json.decode(ev.value) for ev in generate(seed=41, count=300, fraud_ratio=0.3)]
CARDS = ["C1", "C2", "C3"]
BAD_UTF8 = b"\xff \xc3 \xc3( \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf \xf0\x9f\x98 \x80".split()
ODD_STRINGS = [
    *("", "a" * 64, "a" * 65, "b" * 100, "b" * 101, "\u00e9" * 64, "\u00e9" * 65, "Z\u00fcrich"),
    *("\u6771\u4eac", "\U0001f600", '"', "\\", "\n", "\u2028", "\x7f", "\x00", "UNKNOWN_IP_ADDR"),
    *("USD", "usd", "US", "FR", "fr", "pos", "POS", "atm", "online", "pos\n", "USD\n", " pos", "New York"),
]
NUMBERS = [
    *("-0", "-0.0", "0", "0.0", "-0e0", "1e400", "-1e400", "1e-400", "5e-324", "1E5", "1e+2", "1000000"),
    *("1000000.0000000001", "1e6", "1000000.000001", "90", "90.00000000000001", "-90", "180", "1e-7"),
    *("1000000000", "1e9", "1000000000.0000002", "1000000000.0000001"),
    *("-180.0000000001", "12.50000000000000000000000001", "123456789012345678901234567890", "9.99e-6"),
    *("0.1000000000000000055511151231257827021181583404541015625", "00", "01", ".5", "1.", "+1", "NaN"),
    *("Infinity", "0x10", "-"),
]
ODD_JSON = [
    *(b"null", b"true", b"false", b"[]", b"{}", b'"\\ud800"', b'"\\udc00x"', b'"\\ud83d\\ude00"', b'"\\q"'),
    *(
        b'{"a":[1,{"b":null}],"c":"\\u00e9","d":{"e":{"f":[[[]]]}}}',
        b'[1,"x",[null]]',
        b"[" * 300 + b"]" * 300,
    ),
    *(b'"a\x01b"', b"1e99999", b"-123456789012345678901234567890.5e-3"),
]
EXTRA_KEYS = ["x", "extra", "nested", "TXN_ID", "amount ", "\u00e9", "ts\u0000"]


def quote(text: str, style: str) -> bytes:
    """A JSON string: UTF-8 as is, \\u-escaped non-ASCII, or every character escaped."""
    if style == "escape_all":
        inner = "".join(json.dumps(c)[1:-1] if ord(c) > 0xFFFF else f"\\u{ord(c):04X}" for c in text)
        return f'"{inner}"'.encode()
    try:
        return json.dumps(text, ensure_ascii=style == "ascii").encode()
    except UnicodeEncodeError:  # a lone surrogate: only its escape is JSON
        return json.dumps(text).encode()


def float_text(x: float, style: str) -> str:
    return {"repr": repr(x), "e": f"{x:.17e}", "E": f"{x:.20E}", "g": f"{x:.20g}", "f": f"{x:.12f}"}[style]


PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
TEXT = st.sampled_from(ODD_STRINGS) | st.text(max_size=6) | st.text(PRINTABLE, max_size=12)
JSON_STRING = st.builds(quote, TEXT, st.sampled_from(["raw", "ascii", "escape_all"]))
NUMBER = (
    st.sampled_from(NUMBERS)
    | st.integers(-(10**25), 10**25).map(str)
    | st.builds(
        float_text, st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["repr", "e", "E"])
    )
    | st.builds(float_text, st.floats(-200, 1e6 + 1), st.sampled_from(["repr", "e", "g", "f"]))
).map(str.encode)
SCALAR = JSON_STRING | NUMBER | st.sampled_from(ODD_JSON)
NESTED = st.sampled_from([b'{"a":{"b":[1,2,{"c":"d"}]}}', b"[[],[{}]]", b'{"ts":"x","amount":"y"}'])
DATE = (
    st.sampled_from(["2026-11-29", "2024-02-29", "2023-02-29", "2000-02-29", "1900-02-29", "2026-04-31"])
    | st.builds(
        "{:04d}-{:02d}-{:02d}".format,
        st.sampled_from([1, 1969, 1970, 2199, 2200, 2300, 9999]),
        st.integers(0, 13),
        st.integers(0, 32),
    )
    | st.builds("{}-{}-{}".format, st.integers(1, 2300), st.integers(1, 12), st.integers(1, 28))
)
TIMESTAMP = st.builds(
    "{}{}{}{}{}".format,
    DATE,
    st.sampled_from(["T", "T", "t", " "]),
    st.sampled_from(["10:11:12", "00:00:00", "23:59:59", "23:59:60", "24:00:00", "9:05:00", "10:11"]),
    st.sampled_from(["", ".", ",5"]) | st.integers(1, 9).map(lambda n: "." + "987654321"[:n]),
    st.sampled_from(
        ["Z", "z", "+00:00", "-00:00", "+02:00", "-05:30", "+14:00", "+0000", "+00", "", "+24:00"]
    ),
).map(lambda ts: json.dumps(ts).encode())
# (kind, where, payload): one edit of an event's (key, value) pairs, see apply_edit
EDIT = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 20), SCALAR),
    st.tuples(st.just("string"), st.integers(0, 20), JSON_STRING),
    st.tuples(st.just("number"), st.sampled_from([b'"amount"', b'"lat"', b'"lon"']), NUMBER),
    st.tuples(st.just("drop"), st.integers(0, 20), st.none()),
    st.tuples(st.just("null"), st.integers(0, 20), st.just(b"null")),
    st.tuples(st.just("extra"), st.integers(0, 20), st.tuples(st.sampled_from(EXTRA_KEYS), SCALAR | NESTED)),
    st.tuples(st.just("dup"), st.integers(0, 20), st.none() | SCALAR),
    st.tuples(st.just("ts"), st.just(b'"ts"'), TIMESTAMP),
    st.tuples(st.just("key"), st.integers(0, 20), st.none()),
)
ODD_WHOLE = [
    *(("tombstone", None), ("array", None), ("big", None), ("max", 0), ("max", 1)),
    *(("utf8", (bad, at)) for bad in BAD_UTF8 for at in (0, 9, 40, 10_000)),
    *(("other", v) for v in (b"[]", b"1", b'"s"', b"null", b"true", b"{}", b"", b" ", b"\xef\xbb\xbf{}")),
    *(("cut", n) for n in (1, 10, 100, 200, -1)),
    *(("ws", v) for v in (b" \n\t\r", b"\xef\xbb\xbf", b"\n", b"\x0c")),
    *(("tail", v) for v in (b" \n\t\r", b"x", b"{}", b",", b"\x00", b"]")),
]
WHOLE = st.sampled_from([("keep", None)] * len(ODD_WHOLE) + ODD_WHOLE)  # one draw: half keep the value
HEADER_VALUES = [
    b"normal",
    b"velocity_burst",
    b"x-f1",
    b"",
    b"\xff\xfe",
    b"\xed\xa0\x80",
    b"\xc3",
    b"a" * 200,
]
HEADER = st.tuples(
    st.sampled_from([HEADER_SCENARIO, HEADER_SCENARIO_ID, HEADER_SCENARIO_LAST, "other", "Scenario"]),
    st.none()
    | st.sampled_from([*HEADER_VALUES, "\u00e9".encode() * 70, b"\xf0\x9f\x98" * 50])
    | st.binary(max_size=8),
)
USUAL_HEADERS = [
    [(HEADER_SCENARIO, b"normal")],
    [(HEADER_SCENARIO, b"card_testing"), (HEADER_SCENARIO_ID, b"f-1")],
    [(HEADER_SCENARIO, b"card_testing"), (HEADER_SCENARIO_ID, b"f-1"), (HEADER_SCENARIO_LAST, b"1")],
]
HEADERS = st.sampled_from([*USUAL_HEADERS, [], None]) | st.lists(HEADER, max_size=4)
RECORD_TS = st.sampled_from([T0 + 1_500, T0 + 61_000, T0 + 899_999, T0, -1, 0, 999, -1001, 2**62])


def apply_edit(pairs: list[tuple[bytes, bytes]], edit: tuple[str, Any, Any]) -> None:
    kind, where, payload = edit
    at = where % len(pairs) if isinstance(where, int) and pairs else 0
    if kind == "extra" or not pairs:
        key, value = payload if kind == "extra" else ("x", b"1")
        pairs.insert(at, (json.dumps(key).encode(), value))
    elif kind in ("number", "ts"):
        pairs[:] = [(k, payload if k == where else v) for k, v in pairs]
    elif kind == "drop":
        del pairs[at]
    elif kind == "dup":
        pairs.append((pairs[at][0], pairs[at][1] if payload is None else payload))
    elif kind == "key":  # the same key, spelt with escapes
        pairs[at] = (quote(json.loads(pairs[at][0]), "escape_all"), pairs[at][1])
    else:
        pairs[at] = (pairs[at][0], payload)


def encode_pairs(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return b"{" + b",".join(k + b":" + v for k, v in pairs) + b"}"


def apply_whole(pairs: list[tuple[bytes, bytes]], whole: tuple[str, Any]) -> bytes | None:
    kind, arg = whole
    value = encode_pairs(pairs)
    if kind == "utf8":
        at = min(arg[1], len(value))
        return value[:at] + arg[0] + value[at:]
    return {
        "keep": lambda: value,
        "tombstone": lambda: None,
        "other": lambda: arg,
        "array": lambda: b"[" + b",".join(v for _, v in pairs) + b"]",  # the values in order
        "cut": lambda: value[:arg],
        "big": lambda: value[:-1] + b',"pad":"' + b"x" * MAX_BYTES + b'"}',
        "max": lambda: value + b" " * (MAX_BYTES - len(value) + arg),  # at the limit, or 1 byte over
        "ws": lambda: arg + value + b" \n\t\r",
        "tail": lambda: value + arg,
    }[kind]()


def odd_value(
    body: dict[str, Any], card: str, dt_ms: int, edits: list[tuple[str, Any, Any]], whole: Any
) -> bytes | None:
    """A valid event of one of a few cards close in time, after a few edits."""
    body = {**body, "card_id": card, "ts": canonical_ts(T0 + dt_ms)}
    pairs = [(json.dumps(k).encode(), msgspec.json.encode(v)) for k, v in body.items()]
    for edit in edits:
        apply_edit(pairs, edit)
    return apply_whole(pairs, whole)


VALUE = st.builds(
    odd_value,
    st.sampled_from(POOL),
    st.sampled_from(CARDS),
    st.integers(0, 900_000),
    st.lists(EDIT, max_size=3),
    WHOLE,
)
ODD_BATCH = st.lists(st.tuples(VALUE, RECORD_TS, HEADERS), min_size=1, max_size=16).map(
    lambda specs: [
        record(value, offset=i, partition=i % 3, ts_ms=ts, headers=h)
        for i, (value, ts, h) in enumerate(specs)
    ]
)
FUZZ_RULES = [
    default_rules(),
    *(
        EXTREMES[n]("Paris")
        for n in ("high_amount_1", "velocity_2_always", "travel_everywhere", "card_testing_1")
    ),
    *(EXTREMES[n]("Paris") for n in ("amount_anomaly_eager", "deny_busiest_city")),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ODD_BATCH, st.integers(0, 16), st.sampled_from(FUZZ_RULES))
def test_generated_records_match(records: list[Any], split: int, rules: RulesConfig) -> None:
    paths = Paths(rules)
    for k, batch in enumerate((records[:split], records[split:])):
        if batch:
            paths.step(batch, f"batch {k}")


BASE = event_json("E1", "25.5", "48.85", "2.35", T0 + 123)


def _field(name: str, raw: str) -> bytes:
    """BASE with one field's raw JSON replaced."""
    body = json.loads(BASE)
    return BASE.replace(f'"{name}":{json.dumps(body[name])}'.encode(), f'"{name}":{raw}'.encode())


def _extra(raw: str) -> bytes:
    return BASE[:-1] + f',"extra":{raw}}}'.encode()


EDGE_VALUES: dict[str, bytes | None] = {
    "lat_int_minus_zero": _field("lat", "-0"),
    "lon_int_minus_zero": _field("lon", "-0"),
    "lat_float_minus_zero": _field("lat", "-0.0"),
    "json_array_of_the_fields": b"["
    + b",".join(json.dumps(v).encode() for v in json.loads(BASE).values())
    + b"]",
    "lone_surrogate_in_unknown_field": _extra(r'"\ud800"'),
    "surrogate_pair_in_unknown_field": _extra(r'"\ud83d\ude00"'),
    "huge_number_in_unknown_field": _extra("1e400"),
    "deep_unknown_field": _extra("[" * 200 + "]" * 200),
    "escaped_key": BASE.replace(b'"txn_id"', b'"\\u0074xn_id"'),
    "duplicate_key": BASE[:-1] + b',"amount":26.5}',
    "ts_offset_utc": _field("ts", '"2026-11-30T00:53:20.123+00:00"'),
    "ts_offset_minus_zero": _field("ts", '"2026-11-30T00:53:20.123-00:00"'),
    "ts_offset_plus_two": _field("ts", '"2026-11-30T02:53:20.123+02:00"'),
    "ts_six_digits": _field("ts", '"2026-11-30T00:53:20.123456Z"'),
    "ts_nine_digits": _field("ts", '"2026-11-30T00:53:20.123456789Z"'),
    "ts_lowercase": _field("ts", '"2026-11-30t00:53:20.123z"'),
    "ts_space": _field("ts", '"2026-11-30 00:53:20.123Z"'),
    "ts_leap_day": _field("ts", '"2028-02-29T00:53:20Z"'),
    "ts_not_a_leap_day": _field("ts", '"2027-02-29T00:53:20Z"'),
    "ts_1970": _field("ts", '"1970-01-01T00:00:00.001Z"'),
    "ts_1969": _field("ts", '"1969-12-31T23:59:59.999Z"'),
    "ts_2200": _field("ts", '"2200-01-01T00:00:00Z"'),
    "country_missing": BASE.replace(b'"country":"FR",', b""),
    "country_null": _field("country", "null"),
    "coords_null": _field("lat", "null").replace(b'"lon":2.35', b'"lon":null'),
    "amount_int": _field("amount", "25"),
    "amount_exponent": _field("amount", "2.55E1"),
    "amount_tiny": _field("amount", "1e-7"),
    "amount_max": _field("amount", "1000000000"),
    "amount_over_max": _field("amount", "1000000000.0000002"),
    "city_escaped": _field("city", r'"\u0050aris"'),
    "city_non_ascii": _field("city", '"Z\u00fcrich"'),
    "id_65_chars": _field("card_id", json.dumps("E" * 65)),
    "tombstone": None,
    "empty": b"",
    "not_json": b"{nope",
}


@pytest.mark.parametrize("name", sorted(EDGE_VALUES))
def test_edge_records_match(name: str) -> None:
    follow_up = record(event_json("E1", "30.0", "48.85", "2.35", T0 + 5_000), offset=1, ts_ms=T0 + 5_000)
    value = EDGE_VALUES[name]
    assert value != BASE
    paths = Paths(default_rules())
    paths.step([record(value, headers=[(HEADER_SCENARIO, b"normal")]), follow_up], name)


# --- 5b. generated stored states (section 4, fuzzed) -----------------------------------------------
TIMES = st.integers(T0 - 4_000_000, T0 + 900_000)


@st.composite
def card_state(draw: st.DrawFn) -> CardState:
    """A consistent card state near the fuzzed events' times (what a bridge could have stored)."""
    k, j = draw(st.integers(0, 8)), draw(st.integers(0, 5))
    recent = sorted(draw(st.lists(TIMES, min_size=k, max_size=k)))
    tiny = sorted(draw(st.lists(TIMES, min_size=j, max_size=j)))
    where = draw(st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)))
    return CardState(
        last_ms=max([*recent, *tiny, draw(TIMES)]),
        geo_ms=draw(TIMES),
        lat=None if where is None else where[0],
        lon=None if where is None else where[1],
        city=draw(st.sampled_from(["Paris", "Mumbai", "", "Z\u00fcrich"])),
        recent_ms=recent,
        recent_amt=draw(st.lists(st.floats(0.01, 1e6), min_size=k, max_size=k)),
        tiny_ms=tiny,
        tiny_merchants=draw(st.lists(st.integers(0, 2**32 - 1), min_size=j, max_size=j)),
        since_ms=draw(TIMES),
        seen=draw(st.integers(0, 1_200)),
        n=draw(st.integers(0, 250)),
        log_mean=draw(st.floats(-3, 12)),
        log_m2=draw(st.floats(0, 50)),
    )


STORED_BYTES = (
    st.none()
    | st.builds(encode_state, card_state())
    | st.builds(lambda s, edit: STORED[edit](encode_state(s)), card_state(), st.sampled_from(sorted(STORED)))
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(STORED_BYTES, STORED_BYTES, STORED_BYTES), ODD_BATCH, st.sampled_from(FUZZ_RULES))
def test_generated_stored_states_match(
    stored: tuple[bytes | None, ...], records: list[Any], rules: RulesConfig
) -> None:
    paths = Paths(rules)
    paths.redis = {card: raw for card, raw in zip(CARDS, stored, strict=True) if raw is not None}
    paths.step(records, "batch")


# --- 6. floats written like msgspec --------------------------------------------------------------
ALL_OFF = msgspec.structs.replace(
    default_rules(),
    **{r: msgspec.structs.replace(getattr(default_rules(), r), enabled=False) for r in RULES_OFF},
)
AMOUNTS = [
    *(1e-7, 1.5e-7, 9.99e-6, 9.999999999999999e-6, 1e-5, 1.0000000000000001e-5, 5e-324, 1e-300),
    *(2.2250738585072014e-308, 0.07, 0.1, 0.30000000000000004, 1 / 3, 2.5, 4.35, 123.456, 99999.99),
    *(666.6666666666666, 1234567 / 3, 999999.9999999999, 1e6, 12.0, 20.0),
]
LATS = [0.0, -0.0, 90.0, -90.0, 1e-7, -1e-5, 9.99e-6, 45.123456789012345, -33.8688, 1e-320, 0.1 + 0.2]
LONS = [*LATS, 180.0, -180.0, 179.99999999999997, -122.4194, 151.2093]


def negative_zero_coordinates(records: list[ConsumerRecord]) -> int:
    """Records the native side hands to Python on purpose: `-0` and `-0.0` read alike to serde."""
    out = 0
    for r in records:
        body = json.loads(r.value)
        out += any(
            isinstance(body.get(k), float) and math.copysign(1.0, body[k]) < 0 and body[k] == 0.0
            for k in ("lat", "lon")
        )
    return out


def test_fixed_floats_are_written_like_msgspec() -> None:
    records = [
        record(
            event_json(f"F{i % 4}", repr(a), repr(LATS[i % len(LATS)]), repr(LONS[i % len(LONS)]), T0 + i),
            offset=i,
        )
        for i, a in enumerate(AMOUNTS)
    ]
    paths = Paths(ALL_OFF)
    paths.step(records, "floats")
    calls = negative_zero_coordinates(records)  # all the rest written natively
    assert paths.scored == len(records) and paths.nat_detector.calls == calls


def spelled(x: float, style: str, low: float, high: float) -> str:
    """`x` as JSON text: shortest, long exponent forms, its exact decimal, or a rounding tie."""
    if style == "exact":
        text = str(Decimal(x))
    elif style == "tie":  # halfway to the next float: correct parsers round to even
        up = math.nextafter(x, math.inf)
        text = str((Decimal(x) + Decimal(up)) / 2) if math.isfinite(up) else repr(x)
    else:
        text = float_text(x, style)
    return text if len(text) < 300 and low <= float(text) <= high and float(text) != 0.0 else repr(x)


STYLE = st.sampled_from(["repr", "e", "E", "g", "exact", "tie"])
FLOAT_EVENT = st.tuples(
    st.builds(spelled, st.floats(5e-324, 1e6), STYLE, st.just(5e-324), st.just(1e6)),
    st.builds(spelled, st.floats(-90, 90), STYLE, st.just(-90.0), st.just(90.0)),
    st.builds(spelled, st.floats(-180, 180), STYLE, st.just(-180.0), st.just(180.0)),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(FLOAT_EVENT, min_size=1, max_size=24))
def test_generated_floats_are_written_like_msgspec(events: list[tuple[str, str, str]]) -> None:
    records = [record(event_json(f"G{i % 3}", *ev, T0 + 10 * i), offset=i) for i, ev in enumerate(events)]
    paths = Paths(ALL_OFF)
    paths.step(records, "floats")
    assert paths.scored == len(records) and paths.nat_detector.calls == negative_zero_coordinates(records)


STATE_FLOATS = [
    *(1e16, 1.5e16, 9.999999999999998e15, 1e22, 1e-7, 1e-5, 9.99e-6, 5e-324, 123456789.12345679),
    1e200,  # log_m2 overflows to inf on the next event
]


@pytest.mark.parametrize("x", STATE_FLOATS)
def test_stored_floats_round_trip(x: float) -> None:
    lat, lon = (x, -x) if x <= 90 else (1.5, -2.5)
    at = T0 - 5_000
    state = CardState(
        last_ms=at, geo_ms=at, lat=lat, lon=lon, city="Paris", recent_ms=[at], recent_amt=[min(x, 1e6)]
    )
    state = msgspec.structs.replace(state, since_ms=T0 - 10**6, seen=3, n=3, log_mean=x, log_m2=x)
    paths = Paths(ALL_OFF)
    paths.redis = {"F1": encode_state(state)}
    py = paths.step([record(event_json("F1", "25.5", "48.85", "2.35", T0), offset=0)], repr(x))
    assert isinstance(py, Seen) and py.scored == 1 and paths.nat_detector.calls == 0


# --- 7. cache: eviction, dropped partitions, clear -----------------------------------------------
def card_of(rec: ConsumerRecord) -> str:
    return str(msgspec.json.decode(rec.value)["card_id"])


@pytest.mark.parametrize("how", ["evict", "drop", "clear"])
def test_cache_changes_reload_from_redis(mix: list[ConsumerRecord], how: str) -> None:
    records = mix[:6_000]
    cards = {card_of(r) for r in records}
    dropped: set[str] = set()

    def between(k: int, paths: Paths) -> None:
        dropped.clear()
        if k and how == "drop":
            gone = k % 3
            dropped.update(c for c in cards if c in paths.native and zlib.crc32(c.encode()) % 3 == gone)
            paths.drop_partitions([gone])
        elif k % 4 == 3 and how == "clear":
            dropped.update(c for c in cards if c in paths.native)
            paths.clear()
        assert not any(c in paths.native for c in dropped)

    paths = run(
        Paths(default_rules(), cache_max=64 if how == "evict" else 100_000), batches(records, (300,)), between
    )
    assert paths.loaded > len(cards) + 500  # the native side read those cards' states from Redis again


def test_dropped_partition_forgets_a_card_by_its_newest_record() -> None:
    paths = Paths(default_rules())

    def ev(i: int, partition: int) -> ConsumerRecord:
        return record(event_json("X", "25.5", "48.85", "2.35", T0 + 1_000 * i), partition=partition, offset=i)

    paths.step([ev(0, 0), ev(1, 1)], "card X on partitions 0 then 1")
    paths.drop_partitions([1])  # partition 1 went to another bridge: it may write X from now on
    assert "X" not in paths.cache and "X" not in paths.native
    paths.redis["X"] = encode_state(CardState(last_ms=T0 + 5_000, seen=40, n=40, log_mean=1.0, log_m2=4.0))
    paths.step([ev(9, 1)], "partition 1 back, X as the other bridge left it")


def test_a_batch_larger_than_the_txns_stream_keeps_its_newest_rows(mix: list[ConsumerRecord]) -> None:
    batch = mix[: RECENT_TXNS_MAX + 300]
    for packed in (False, True):
        paths = Paths(default_rules(), packed=packed)
        py = paths.step(batch, f"one batch of {len(batch)} (packed={packed})")
        assert isinstance(py, Seen) and len(py.rows) == RECENT_TXNS_MAX and py.scored == len(batch)


# --- a backtest's form: nothing to write ---------------------------------------------------------
def test_without_writes_the_verdicts_and_tallies_are_the_same_and_nothing_is_encoded(
    mix: list[ConsumerRecord],
) -> None:
    """writes=False (backtest/native_pair.py) skips rows and encoded states, never a verdict."""
    rules = default_rules()
    writing, silent = NativePath(rules, MAX_BYTES, 100_000), NativePath(rules, MAX_BYTES, 100_000)
    detectors = Detector(rules), Detector(rules)
    rows = states = alerts = 0
    for k, batch in enumerate(batches(mix[:8_000])):
        out = []
        for path, detector, writes in zip((writing, silent), detectors, (True, False), strict=True):
            missing = path.scan(batch)  # both caches hold every card met: nothing is ever stored
            out.append(path.detect(batch, detector, VERSION, dict.fromkeys(missing), writes=writes))
            path.commit()
        full, bare = out
        where = f"batch {k}"
        assert [(s.alert.alert_id, s.alert.reasons) for s in bare.alerted if s.alert] == [
            (s.alert.alert_id, s.alert.reasons) for s in full.alerted if s.alert
        ], where
        assert bare.tally._replace(rows=[]) == full.tally._replace(rows=[]), where
        assert (bare.scored, len(bare.rejected)) == (full.scored, len(full.rejected)), where
        assert bare.tally.rows == [] and bare.states == {} and bare.packed is None, where
        rows, states = rows + len(full.tally.rows), states + len(full.states)
        alerts += sum(s.alert is not None for s in full.alerted)
    # the writing side really built what the silent one skipped, and rules really fired
    assert rows > 0 and states > 0 and alerts > 30
