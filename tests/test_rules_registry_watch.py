"""The bridge's RulesWatcher on the real Redis: lists load into a snapshot, only changed lists reload."""

from __future__ import annotations

import time

import pytest

from bridge.rules_watch import RulesWatcher
from common.keys import LIST_CHANGES_MAX
from dashapp.store.list_entries import EntryIn
from dashapp.store.lists import CHUNK, ListStore

pytestmark = pytest.mark.integration
JAN_MS = 1_798_761_600_000


def test_lists_reach_the_detector_and_only_changed_lists_reload(redis_client, keys) -> None:
    lists = ListStore(redis_client, keys)
    watcher = RulesWatcher(redis_client, keys, interval_s=0.5)
    handed: list[object] = []
    watcher.on_lists = handed.append
    watcher.seed()
    seeded = time.monotonic()  # the seed's poll was at or before this: the next is due 0.5 s later
    assert watcher.lists == {} and handed == [{}]  # no list yet: the engines still get an (empty) snapshot
    lists.put("snoozed", [EntryIn("C-1", JAN_MS), EntryIn("C-2")], "ann")
    big = [EntryIn(f"M-{i:06d}") for i in range(CHUNK * 2 + 1)]
    lists.put("deny", big, "ann")
    assert watcher.refresh(now=seeded) is False  # not due: one poll per interval
    assert watcher.refresh(now=seeded + 1) is True
    assert watcher.lists["snoozed"] == {"C-1": JAN_MS, "C-2": 0}
    assert len(watcher.lists["deny"]) == len(big)
    assert watcher.detector.lists is watcher.lists and handed[-1] is watcher.lists
    deny = watcher.lists["deny"]
    lists.add("snoozed", [EntryIn("C-3")], "bob")
    assert watcher.refresh(now=seeded + 2) is True
    assert set(watcher.lists["snoozed"]) == {"C-1", "C-2", "C-3"}
    assert watcher.lists["deny"] is deny  # unchanged: not read again
    assert watcher.refresh(now=seeded + 3) is False  # nothing changed: nothing rebuilt
    lists.delete("snoozed", "ann")
    assert watcher.refresh(now=seeded + 4) is True and set(watcher.lists) == {"deny"}


def test_rules_changes_keep_the_lists(redis_client, keys) -> None:
    from dashapp.store import RulesStore

    ListStore(redis_client, keys).put("deny", [EntryIn("M-1")], "ann")
    watcher = RulesWatcher(redis_client, keys)
    watcher.seed()
    store = RulesStore(redis_client, keys)
    store.update({"high_amount": {"threshold": 9_000}}, "ann", 1)
    assert watcher.refresh(now=time.monotonic() + 1) is True
    assert watcher.version == 2 and watcher.detector.rules.high_amount.threshold == 9_000
    assert watcher.detector.lists == {"deny": {"M-1": 0}}


def test_small_changes_reread_only_the_values_they_touch(redis_client, keys) -> None:
    lists = ListStore(redis_client, keys)
    watcher = RulesWatcher(redis_client, keys)
    watcher.seed()
    now = time.monotonic()
    lists.put("deny", [EntryIn(f"M-{i}") for i in range(10)], "ann")
    assert watcher.refresh(now=now + 1)
    # a write behind the store's back has no change record: a delta reload cannot see it, which
    # shows that only the values the records name were read again
    redis_client.hdel(keys.list_entries("deny"), "M-0")
    lists.add("deny", [EntryIn("M-new", JAN_MS)], "ann")
    lists.remove("deny", ["M-1"], "ann")
    assert watcher.refresh(now=now + 2)
    assert watcher.lists["deny"] == {**{f"M-{i}": 0 for i in range(10) if i != 1}, "M-new": JAN_MS}
    lists.delete("deny", "ann")
    lists.add("deny", [EntryIn("Z-1")], "ann")  # re-created between two polls: read whole
    assert watcher.refresh(now=now + 3)
    assert watcher.lists["deny"] == {"Z-1": 0}
    redis_client.hset(keys.list_entries("deny"), "Z-2", b'{"expires_ms":null,"note":"","by":"x","at":"t"}')
    for i in range(LIST_CHANGES_MAX + 1):  # further behind than the change log reaches: read whole
        lists.add("deny", [EntryIn(f"Y-{i}")], "ann")
    assert watcher.refresh(now=now + 4)
    assert "Z-2" in watcher.lists["deny"] and len(watcher.lists["deny"]) == LIST_CHANGES_MAX + 3
