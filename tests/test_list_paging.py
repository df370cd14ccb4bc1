"""List pages read from the order index on real Redis equal the whole-list reference after every change."""

from __future__ import annotations

import logging

import pytest

from common.keys import LIST_DELTA_MAX
from dashapp.store.list_entries import EntryIn, ListNotFound
from dashapp.store.list_order import contains_glob
from dashapp.store.lists import ListStore
from dashapp.views.lists_view import PAGE_ENTRIES, page_of

pytestmark = pytest.mark.integration
ODD = ["a*b", "x?y", "[br]acket", "back\\slash", "Zürich", "ZÜRICH-2", "straße", "MiXeD-Case"]
NEEDLES = ["", "c-00", "C-0001", "*", "?", "[b", "\\", "zür", "ü", "STRASSE", "straß", "mixed", "none-such"]


def _same(store: ListStore, name: str) -> None:
    whole = store.get(name)
    for needle in NEEDLES:
        for page in (0, 7, 10**9):
            want = page_of(whole, page, needle)
            got = store.page(name, page, PAGE_ENTRIES, needle)
            assert got == want, (needle, page)


def test_pages_follow_adds_removes_replacements_and_recreation(redis_client, keys, caplog) -> None:
    store = ListStore(redis_client, keys)
    store.put("cards", [EntryIn(f"C-{i:05d}") for i in range(2_345)] + [EntryIn(v) for v in ODD], "ann")
    _same(store, "cards")
    caplog.set_level(logging.INFO, logger="dashapp.store.list_order")
    caplog.clear()
    store.add("cards", [EntryIn("c-00001-new", note="n"), EntryIn("C-00002", note="updated")], "bob")
    store.remove("cards", ["C-00003", "a*b", "not-there"], "bob")
    _same(store, "cards")
    assert "order rebuilt" not in caplog.text  # small changes: only the values they touched
    store.add("cards", [EntryIn(f"D-{i}") for i in range(LIST_DELTA_MAX + 1)], "bob")  # too big to list
    _same(store, "cards")
    assert "order rebuilt" in caplog.text
    store.put("cards", [EntryIn("only")], "ann")  # a replacement
    _same(store, "cards")
    assert store.page("cards", 0, PAGE_ENTRIES)[2] == 1
    store.delete("cards", "ann")
    with pytest.raises(ListNotFound):
        store.page("cards", 0, PAGE_ENTRIES)
    assert not redis_client.exists(keys.list_order("cards"))  # a deleted list's order is dropped
    store.put("cards", [EntryIn("again-1"), EntryIn("again-2")], "ann")  # re-created: read afresh
    _same(store, "cards")
    store.remove("cards", ["again-1", "again-2"], "ann")  # emptied
    _same(store, "cards")
    assert store.page("cards", 3, PAGE_ENTRIES) == ([], 0, 0)


def test_a_missing_or_stale_order_is_rebuilt(redis_client, keys) -> None:
    store = ListStore(redis_client, keys)
    store.put("mm", [EntryIn(f"M-{i}") for i in range(300)], "ann")
    _same(store, "mm")
    redis_client.delete(keys.list_order("mm"))  # lost (evicted, flushed) while its version stays
    _same(store, "mm")
    redis_client.hset(keys.list_order_versions, "mm", 10**9)  # a version the log does not have
    store.add("mm", [EntryIn("M-new")], "ann")
    _same(store, "mm")
    redis_client.delete(keys.list_order("mm"))  # lost, and a small change since: the delta alone is short
    store.add("mm", [EntryIn("M-newer")], "ann")
    _same(store, "mm")
    assert redis_client.ttl(keys.list_order("mm")) == -1  # the rebuilt order does not expire


@pytest.mark.parametrize(
    ("needle", "pattern"),
    [("ab", "*[aA][bB]*"), ("a*b?", "*[aA]\\*[bB]\\?*"), ("[x]", "*\\[[xX]\\]*"), ("zü-1", "*[zZ]*-1*")],
)
def test_contains_glob_is_a_case_insensitive_superset(needle: str, pattern: str) -> None:
    assert contains_glob(needle) == pattern
