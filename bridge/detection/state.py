"""Per-card detection state: what the stateful rules remember about one card, bounded and compact."""

from __future__ import annotations

from math import isfinite

import msgspec

RECENT_MAX = 64  # velocity entries kept (>= the largest allowed max_count)
TINY_MAX = 16  # card-testing probes kept (>= the largest allowed min_tiny)
STATS_CAP = 200  # amount statistics weigh the last ~200 transactions (adapts, stays bounded)
RATE_CAP = 1_000  # rate history halves here, so it adapts and stays small
NO_TIME = -(2**62)
# First element of the stored array: a layout version. Bump it when fields change so states
# written by an older bridge decode as fresh instead of being misread.
STATE_TAG = "cs1"  # "never seen": far enough back that every window has expired


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


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CardState)


def encode_state(state: CardState) -> bytes:
    """Serialise a card state to compact JSON bytes."""
    return _encoder.encode(state)


def decode_state(raw: bytes | str | None) -> CardState:
    """Parse card-state bytes; missing, corrupt or foreign bytes give a fresh state (never raise)."""
    if not raw:
        return CardState()
    try:
        state = _decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError):
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
    )
