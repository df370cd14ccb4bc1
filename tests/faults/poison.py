"""Poison records: every kind of bad Kafka value the bridge must dead-letter, derived from good events."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import NamedTuple

import msgspec

FAULT_HEADER = "fault"  # which kind of bad record this is; the DLQ keeps original headers


class Rec(NamedTuple):
    """A record to send: the shape `harness.produce` expects."""

    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]


def _with(good: bytes, **changes: object) -> bytes:
    body = msgspec.json.decode(good)
    body.update(changes)
    return msgspec.json.encode(body)


def _without(good: bytes, field: str) -> bytes:
    body = msgspec.json.decode(good)
    body.pop(field, None)
    return msgspec.json.encode(body)


def _literal(good: bytes, field: str, literal: bytes) -> bytes:
    """Replace a field's value with raw JSON-ish text (NaN, Infinity...), which encoders refuse to write."""
    body = msgspec.json.decode(good)
    body[field] = "__X__"
    return msgspec.json.encode(body).replace(b'"__X__"', literal)


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_field(good: bytes, depth: int) -> bytes:
    return _literal(good, "merchant_category", _deep(depth))


# Kinds of bad values, each a function of one good value (so they look like real traffic).
KINDS: dict[str, Callable[[bytes], bytes | None]] = {
    "invalid_utf8": lambda g: b"\xff\xfe" + g[2:],
    "invalid_utf8_in_string": lambda g: g.replace(b'"txn_id":"', b'"txn_id":"\xc3\x28', 1),
    "truncated_json": lambda g: g[: len(g) // 2],
    "trailing_garbage": lambda g: g + b"}{",
    "single_quotes": lambda g: g.replace(b'"', b"'"),
    "empty_bytes": lambda g: b"",
    "array": lambda g: b"[" + g + b"]",
    "string": lambda g: b'"hello"',
    "number": lambda g: b"42",
    "json_null": lambda g: b"null",
    "bool": lambda g: b"true",
    "amount_as_string": lambda g: _with(g, amount="12.50"),
    "card_id_as_int": lambda g: _with(g, card_id=12345),
    "ts_as_int": lambda g: _with(g, ts=1767225600000),
    "lat_as_string": lambda g: _with(g, lat="51.5", lon="-0.1"),
    "channel_unknown": lambda g: _with(g, channel="telepathy"),
    "currency_lowercase": lambda g: _with(g, currency="usd"),
    "txn_id_empty": lambda g: _with(g, txn_id=""),
    "txn_id_too_long": lambda g: _with(g, txn_id="x" * 65),
    "lat_without_lon": lambda g: _with(g, lat=10.0, lon=None),
    "lat_out_of_range": lambda g: _with(g, lat=91.0, lon=0.0),
    "missing_txn_id": lambda g: _without(g, "txn_id"),
    "missing_amount": lambda g: _without(g, "amount"),
    "missing_ts": lambda g: _without(g, "ts"),
    "missing_card_id": lambda g: _without(g, "card_id"),
    "nan_amount": lambda g: _literal(g, "amount", b"NaN"),
    "infinity_amount": lambda g: _literal(g, "amount", b"Infinity"),
    "minus_infinity_amount": lambda g: _literal(g, "amount", b"-Infinity"),
    "overflow_amount": lambda g: _literal(g, "amount", b"1e400"),
    "negative_amount": lambda g: _with(g, amount=-5.0),
    "zero_amount": lambda g: _with(g, amount=0.0),
    "huge_amount": lambda g: _with(g, amount=1e12),
    "ts_garbage": lambda g: _with(g, ts="not a date"),
    "ts_impossible_date": lambda g: _with(g, ts="2026-02-30T10:00:00Z"),
    "ts_naive": lambda g: _with(g, ts="2026-01-01T00:00:00"),
    "ts_empty": lambda g: _with(g, ts=""),
    "deep_nesting_small": lambda g: _deep(20_000),  # under the size limit: the decoder's depth guard
    "deep_nesting_in_field": lambda g: _deep_field(g, 10_000),
    "deep_nesting_100k": lambda g: _deep(100_000),
    "object_nesting": lambda g: b'{"a":' * 10_000 + b"1" + b"}" * 10_000,  # 60 kB, under the limit
    "object_nesting_100k": lambda g: b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "tombstone": lambda g: None,
}
BIG_KINDS: dict[str, Callable[[bytes], bytes | None]] = {  # ~1 MB each: only a few per run
    "string_1mb": lambda g: _with(g, merchant_category="m" * 1_000_000),
    "raw_1mb": lambda g: b"z" * 1_000_000,
}


def bad_records(good_values: list[bytes], count: int, big: int, rng: random.Random) -> list[Rec]:
    """`count` bad records (of which `big` are ~1 MB), cycling through every kind; some have no key."""
    kinds = list(KINDS.items())
    out: list[Rec] = []
    big_kinds = list(BIG_KINDS.items())
    for i in range(count):
        name, make = big_kinds[i % len(big_kinds)] if i < big else kinds[i % len(kinds)]
        good = good_values[rng.randrange(len(good_values))]
        key = None if i % 7 == 0 else f"C{rng.randrange(10**7):07d}".encode()  # null keys too
        out.append(Rec(make(good), key, [(FAULT_HEADER, name.encode())]))
    return out


def interleave(good: list[Rec], bad: list[Rec], rng: random.Random) -> Iterator[tuple[bool, Rec]]:
    """Merge keeping each list's order; yields (is_good, record)."""
    slots = [True] * len(good) + [False] * len(bad)
    rng.shuffle(slots)
    gi = bi = 0
    for is_good in slots:
        if is_good:
            yield True, good[gi]
            gi += 1
        else:
            yield False, bad[bi]
            bi += 1
