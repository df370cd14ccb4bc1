"""Per-card detection state (bounded, compact) and the pure transitions that build the next one.

Byte layout (the native engine writes and reads the same bytes; msgspec compact JSON, no spaces):

- `cs1` — every state while no enabled custom rule needs per-card history, byte for byte as before
  rules became data: `["cs1", last_ms, geo_ms, lat, lon, city, recent_ms, recent_amt, tiny_ms,
  tiny_merchants, since_ms, seen, n, log_mean, log_m2]` (CardState's fields in order).
- `cs2` — the same 14 values after the tag `"cs2"`, followed by ten arrays: `hist_ms` (event
  times, ascending, <= HIST_MAX), `hist_amt` (amount in US dollars), `hist_merchant`,
  `hist_country`, `hist_city`, `hist_category`, `hist_channel` (crc32 of the UTF-8 value, each
  parallel to hist_ms or empty when no enabled rule reads that column), then `seen_countries`,
  `seen_merchants`, `seen_categories` (crc32, distinct, newest last, <= SEEN_MAX).
  A writer emits `cs2` only when at least one of those ten arrays is non-empty, else `cs1`.
- Anything else, or a state breaking an invariant `_consistent` checks, decodes as a fresh card.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import pairwise
from math import isfinite, log
from zlib import crc32

import msgspec

from common.schema import Transaction

RECENT_MAX = 64  # velocity entries kept (>= the largest allowed max_count)
TINY_MAX = 16  # card-testing probes kept (>= the largest allowed min_tiny)
STATS_CAP = 200  # amount statistics weigh the last ~200 transactions (adapts, stays bounded)
RATE_CAP = 1_000  # rate history halves here, so it adapts and stays small
NO_TIME = -(2**62)  # "never seen": far enough back that every window has expired
# First element of the stored array: a layout version. Bump it when fields change so states
# written by an older bridge decode as fresh instead of being misread.
STATE_TAG = "cs1"
HISTORY_TAG = "cs2"  # cs1 followed by the per-card history custom rules read
INT64 = 2**63
UINT32 = 2**32
HIST_MAX = 32  # history entries kept inside the longest enabled window (the contract's bound)
SEEN_MAX = 16  # values remembered per new_* feature


class CardState(msgspec.Struct, array_like=True, kw_only=True, tag=STATE_TAG):
    """Everything stateful rules need about one card; stored as a compact JSON array in Redis.

    The engine never mutates a CardState it was given: evaluate() returns a new object, so the
    runtime may drop it if its Redis transaction fails.
    """

    last_ms: int = NO_TIME  # newest event time seen on the card
    geo_ms: int = NO_TIME  # event time of the newest located transaction
    lat: float | None = None
    lon: float | None = None
    city: str = ""
    recent_ms: list[int] = msgspec.field(default_factory=list)  # ascending event times, velocity
    recent_amt: list[float] = msgspec.field(default_factory=list)  # amounts, parallel to recent_ms
    tiny_ms: list[int] = msgspec.field(default_factory=list)  # card-testing probe times
    tiny_merchants: list[int] = msgspec.field(default_factory=list)  # crc32 of probe merchant ids
    since_ms: int = NO_TIME  # start of the span `seen` counts over (the card's usual rate)
    seen: int = 0  # transactions since since_ms (halved with the span at RATE_CAP)
    n: int = 0  # transactions in the amount statistics
    log_mean: float = 0.0  # running mean of ln(amount)
    log_m2: float = 0.0  # Welford sum of squared deviations of ln(amount)


class HistoryState(CardState, kw_only=True, tag=HISTORY_TAG):
    """A card state with the history and seen-values custom rules need (`cs2`, see the module doc).

    Only built when one of its ten arrays is non-empty; the engine reads them via `extension()`.
    """

    hist_ms: list[int] = msgspec.field(default_factory=list)
    hist_amt: list[float] = msgspec.field(default_factory=list)
    hist_merchant: list[int] = msgspec.field(default_factory=list)
    hist_country: list[int] = msgspec.field(default_factory=list)
    hist_city: list[int] = msgspec.field(default_factory=list)
    hist_category: list[int] = msgspec.field(default_factory=list)
    hist_channel: list[int] = msgspec.field(default_factory=list)
    seen_countries: list[int] = msgspec.field(default_factory=list)
    seen_merchants: list[int] = msgspec.field(default_factory=list)
    seen_categories: list[int] = msgspec.field(default_factory=list)


EXTENSION_FIELDS = tuple(f for f in HistoryState.__struct_fields__ if f not in CardState.__struct_fields__)
CS1_FIELDS = CardState.__struct_fields__
NO_EXTENSION = HistoryState()  # read-only stand-in for a cs1 state's (empty) extension


def extension(state: CardState) -> HistoryState:
    """The state's history arrays (all empty for a cs1 state); never mutate the result."""
    return state if isinstance(state, HistoryState) else NO_EXTENSION


def has_extension(state: HistoryState) -> bool:
    return any(getattr(state, name) for name in EXTENSION_FIELDS)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CardState | HistoryState)


def encode_state(state: CardState) -> bytes:
    """Serialise a card state to compact JSON bytes (`cs1` unless it carries history, see above)."""
    if isinstance(state, HistoryState) and not has_extension(state):
        state = CardState(**{name: getattr(state, name) for name in CS1_FIELDS})
    return _encoder.encode(state)


def decode_state(raw: bytes | str | None) -> CardState:
    """Parse card-state bytes; missing, corrupt or foreign bytes give a fresh state (never raise)."""
    if not raw:
        return CardState()
    try:
        state = _decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):  # bad UTF-8 raises the last
        return CardState()
    if not _consistent(state):
        return CardState()
    return state


def _consistent(s: CardState) -> bool:
    """Reject states whose invariants the engine relies on are broken (e.g. hand-edited in Redis)."""
    return (
        len(s.recent_ms) == len(s.recent_amt) <= RECENT_MAX
        and len(s.tiny_ms) == len(s.tiny_merchants) <= TINY_MAX
        and (s.lat is None) == (s.lon is None)
        and s.n >= 0
        and s.seen >= 0
        and s.log_m2 >= 0.0
        and all(isfinite(x) for x in (s.log_mean, s.log_m2))
        # times and counts fit 64 bits, as every writer produces them (the native engine too)
        and all(-INT64 <= x < INT64 for x in (s.last_ms, s.geo_ms, s.since_ms, s.seen, s.n))
        and all(-INT64 <= x < INT64 for xs in (s.recent_ms, s.tiny_ms, s.tiny_merchants) for x in xs)
        and (not isinstance(s, HistoryState) or _consistent_history(s))
    )


def _consistent_history(s: HistoryState) -> bool:
    """cs2's arrays: bounded, parallel to hist_ms or empty, times ascending, crc32 values."""
    ms = s.hist_ms
    columns = (s.hist_merchant, s.hist_country, s.hist_city, s.hist_category, s.hist_channel)
    seen = (s.seen_countries, s.seen_merchants, s.seen_categories)
    return (
        len(ms) <= HIST_MAX
        and all(len(c) in {0, len(ms)} for c in (s.hist_amt, *columns))
        and all(a <= b for a, b in pairwise(ms))
        and all(-INT64 <= x < INT64 for x in ms)
        and all(isfinite(x) for x in s.hist_amt)
        and all(len(xs) <= SEEN_MAX and len(set(xs)) == len(xs) for xs in seen)
        and all(0 <= x < UINT32 for xs in (*columns, *seen) for x in xs)
    )


# --- transitions (pure: they build new lists and never touch `prev`) -----------------------------
def slide_window(
    prev: CardState, t: int, newest: int, amount: float, window_ms: int
) -> tuple[list[int], list[float]]:
    """Return the velocity window (ascending times, amounts) ending at `newest`, with this event."""
    cutoff = newest - window_ms
    times, amounts = prev.recent_ms, prev.recent_amt
    if not times or times[-1] <= cutoff:  # the common case: the window was empty or has expired
        return ([t], [amount]) if t > cutoff else ([], [])
    start = 0
    while start < len(times) and times[start] <= cutoff:
        start += 1
    times, amounts = times[start:], amounts[start:]  # slices are copies
    if t > cutoff:
        if not times or t >= times[-1]:
            times.append(t)
            amounts.append(amount)
        else:  # a late event: keep the window sorted
            at = bisect_right(times, t)
            times.insert(at, t)
            amounts.insert(at, amount)
        if len(times) > RECENT_MAX:
            del times[0], amounts[0]
    return times, amounts


def carry_probes(
    prev: CardState,
    event: Transaction,
    amount: float,
    t: int,
    cutoff: int,
    *,
    tiny_below: float,
    tested: bool,
) -> tuple[list[int], list[int]]:
    """Return the card-testing probes newer than `cutoff`, plus this event if `amount` (its amount
    in US dollars) is tiny."""
    tiny = amount < tiny_below
    if tested or (not prev.tiny_ms and not tiny):
        return [], []  # a completed pattern starts afresh, so one probe run alerts once
    kept = [i for i, ms in enumerate(prev.tiny_ms) if ms > cutoff]
    times = [prev.tiny_ms[i] for i in kept]
    merchants = [prev.tiny_merchants[i] for i in kept]
    if tiny and t > cutoff:
        times.append(t)
        merchants.append(crc32(event.merchant_id.encode()))  # stable across processes, unlike hash()
        if len(times) > TINY_MAX:
            del times[0], merchants[0]
    return times, merchants


def learn_amount(prev: CardState, amount: float) -> tuple[int, float, float]:
    """Fold ln(amount) into the card's stats: Welford, capped at STATS_CAP so old history fades."""
    n, m2 = prev.n, prev.log_m2
    if n >= STATS_CAP:
        k = STATS_CAP
        m2 *= (k - 1) / k
    else:
        k = n + 1
    x = log(amount)
    delta = x - prev.log_mean
    log_mean = prev.log_mean + delta / k
    return k, log_mean, m2 + delta * (x - log_mean)
