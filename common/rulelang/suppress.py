"""Suppressions: the rules an event's listed card, merchant, ... silences (the engine drops their reasons)."""

from __future__ import annotations

from typing import Final

from common.rulelang.compile import CompiledRules
from common.rulelang.facts import Facts
from common.rulelang.lists import ListSnapshot, is_member
from common.rules import RulesConfig

ALL: Final[frozenset[str]] = frozenset({"*"})  # returned as this very object: every rule is silenced
NONE: Final[frozenset[str]] = frozenset()


def suppressed_rules(cfg: RulesConfig | CompiledRules, facts: Facts, lists: ListSnapshot) -> frozenset[str]:
    """The ids of the rules silenced for this event, or ALL (test with `is ALL` or `"*" in result`)."""
    if not cfg.suppressions:
        return NONE
    ts_ms = facts["ts_ms"]
    out: set[str] = set()
    for sup in cfg.suppressions:
        if is_member(lists, sup.list_, facts[sup.field], ts_ms):
            if sup.rules == ("*",):
                return ALL
            out.update(sup.rules)
    return frozenset(out) if out else NONE
