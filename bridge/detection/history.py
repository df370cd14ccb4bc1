"""Per-card history for custom rules: the cs2 ring and seen-values, and aggregates over them (pure).

The ring holds one entry per transaction of the card (event time, amount in US dollars, crc32 of
merchant, country, city, category, channel), ascending by event time, inside the longest window an
enabled rule uses and at most HIST_MAX entries. A column no enabled rule reads stays empty.

Semantics both engines implement (the native engine byte for byte):

- Slide: `cutoff = newest - longest_ms` (`newest` = max(event time, the card's last_ms)); entries
  at or before the cutoff expire. The event is inserted after entries of equal time when it is
  after the cutoff; past HIST_MAX the oldest entries drop.
- A column the plan needs but the stored ring lacks (its length differs from hist_ms, e.g. a rule
  that reads it was just enabled) makes the ring start afresh: values are never guessed.
- An aggregate of window W at event time t reads the new ring's entries with t - W < ms <= t (the
  event included); when the event itself is not in the ring (a late event older than all it
  keeps), it reads the event alone. `where` filters every entry read, the event included.
  Empty: count/distinct 0, sum/avg/max 0.0.
- Seen values (new_* features): the event's crc32 moves to the end (newest last), at most
  SEEN_MAX distinct; the feature is true when the value was absent before this event.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from zlib import crc32

from bridge.detection.state import HIST_MAX, SEEN_MAX, HistoryState
from common.rulelang.model import Cond

# Ring columns after hist_ms, in cs2 order, and the event field each records.
COLUMNS = ("amount_usd", "merchant_id", "country", "city", "merchant_category", "channel")
SEEN = ("country", "merchant_id", "merchant_category")  # seen_countries, _merchants, _categories
_COLUMN = {field: i for i, field in enumerate(COLUMNS)}

Row = tuple[float | int, ...]  # one event's values in COLUMNS order (amount float, the rest crc32)
Ring = tuple[list[int], tuple[list[float] | list[int], ...]]  # hist_ms and the six columns
Where = Callable[[Sequence[Sequence[float | int]], int], bool]  # (columns, entry index) -> match


class HistoryPlan(NamedTuple):
    """What the enabled rules need kept per card; longest_ms 0 = no ring at all."""

    longest_ms: int
    keep: tuple[bool, ...]  # per COLUMNS entry
    seen: tuple[bool, ...]  # per SEEN entry


def crc(value: str) -> int:
    """crc32 of a string's UTF-8 bytes: the stored form of a string in the history."""
    return crc32(value.encode())


def ring_of(prev: HistoryState, plan: HistoryPlan) -> Ring:
    """The stored ring as (hist_ms, columns); empty if a column the plan needs is missing."""
    ms = prev.hist_ms
    cols: tuple[list[float] | list[int], ...] = (
        prev.hist_amt,
        prev.hist_merchant,
        prev.hist_country,
        prev.hist_city,
        prev.hist_category,
        prev.hist_channel,
    )
    if any(need and len(col) != len(ms) for need, col in zip(plan.keep, cols, strict=True)):
        return [], tuple([] for _ in COLUMNS)
    return ms, cols


def slide_ring(ring: Ring, t: int, newest: int, row: Row, plan: HistoryPlan) -> tuple[Ring, bool]:
    """The next ring with this event (new lists); and whether the event is in it."""
    ms, cols = ring
    start = bisect_right(ms, newest - plan.longest_ms)
    new_ms = ms[start:]
    new_cols = tuple(col[start:] if need else [] for need, col in zip(plan.keep, cols, strict=True))
    if t <= newest - plan.longest_ms:
        return (new_ms, new_cols), False
    at = bisect_right(new_ms, t)
    new_ms.insert(at, t)
    for need, col, value in zip(plan.keep, new_cols, row, strict=True):
        if need:
            col.insert(at, value)  # type: ignore[arg-type]  # amt is a float column, the rest int
    excess = len(new_ms) - HIST_MAX
    if excess > 0:
        del new_ms[:excess]
        for col in new_cols:
            del col[:excess]
    return (new_ms, new_cols), at >= excess


def window_span(ms: list[int], t: int, window_ms: int) -> tuple[int, int]:
    """Index range of the entries with t - window_ms < ms <= t."""
    return bisect_right(ms, t - window_ms), bisect_right(ms, t)


def aggregate(
    kind: str,
    of: str | None,
    where: Where | None,
    cols: Sequence[Sequence[float | int]],
    span: range,
) -> float | int:
    """count / sum / avg / max (of amount_usd) / distinct (of a column) over `span` of `cols`."""
    picked = [i for i in span if where(cols, i)] if where is not None else span
    if kind == "count":
        return len(picked)
    if kind == "distinct":
        col = cols[_COLUMN[of or ""]]
        return len({col[i] for i in picked})
    amounts = [cols[0][i] for i in picked]
    if not amounts:
        return 0.0
    if kind == "sum":
        return float(sum(amounts))
    if kind == "avg":
        return float(sum(amounts)) / len(amounts)
    return float(max(amounts))


def remember(seen: list[int], value: int) -> list[int]:
    """Seen values with `value` moved to the end (newest last), at most SEEN_MAX (a new list)."""
    out = [v for v in seen if v != value]
    out.append(value)
    return out[-SEEN_MAX:]


# --- where: a field condition over one ring entry --------------------------------------------------
def compile_where(cond: Cond) -> Where:
    """A predicate over ring entries for a validated `where` (field leaves and combinators only).

    Strings are stored as crc32, so string leaves compare crc32 values; `starts_with` cannot be
    answered from a crc32 and is refused (ValueError) - the validator refuses it inside `where`.
    """
    if cond.all_ is not None:
        parts = [compile_where(c) for c in cond.all_]
        return lambda cols, i: all(p(cols, i) for p in parts)
    if cond.any_ is not None:
        parts = [compile_where(c) for c in cond.any_]
        return lambda cols, i: any(p(cols, i) for p in parts)
    if cond.not_ is not None:
        inner = compile_where(cond.not_)
        return lambda cols, i: not inner(cols, i)
    field, op, value = cond.field, cond.op, cond.value
    if field not in _COLUMN or cond.list_ is not None or op is None:
        raise ValueError(f"where: cannot read {field!r} of past events")
    col = _COLUMN[field]
    if field != "amount_usd":
        if op == "starts_with" or op not in {"eq", "ne", "in", "not_in"}:
            raise ValueError(f"where: {op!r} on {field} cannot be answered from stored crc32 values")
        value = tuple(crc(str(v)) for v in value) if isinstance(value, tuple) else crc(str(value))
    return _leaf(col, op, value)


def _leaf(col: int, op: str, value: Any) -> Where:  # noqa: PLR0911 - one return per operator
    if op == "eq":
        return lambda cols, i: cols[col][i] == value
    if op == "ne":
        return lambda cols, i: cols[col][i] != value
    if op in {"in", "not_in"}:
        members = frozenset(value)  # validated: a tuple
        want = op == "in"
        return lambda cols, i: (cols[col][i] in members) == want
    if op == "between":
        low, high = value  # validated: [low, high]
        return lambda cols, i: low <= cols[col][i] <= high
    x: float = value  # validated: a number for amount_usd
    if op == "lt":
        return lambda cols, i: cols[col][i] < x
    if op == "le":
        return lambda cols, i: cols[col][i] <= x
    if op == "gt":
        return lambda cols, i: cols[col][i] > x
    if op == "ge":
        return lambda cols, i: cols[col][i] >= x
    raise ValueError(f"where: unknown operator {op!r}")
