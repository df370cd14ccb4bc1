"""List membership for rules and suppressions: a hash lookup with per-entry expiry against event time."""

from __future__ import annotations

from collections.abc import Mapping

ListSnapshot = Mapping[str, Mapping[str, int]]  # list name -> value -> expires_ms (0 = never)
NEVER = 0
_EMPTY: Mapping[str, int] = {}


def is_member(snapshot: ListSnapshot, name: str, value: str, event_ms: int) -> bool:
    """True if `value` is on list `name` at event time (an entry expires at expires_ms; no list = empty)."""
    expires = snapshot.get(name, _EMPTY).get(value)
    return expires is not None and (expires == NEVER or event_ms < expires)
