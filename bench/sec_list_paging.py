"""A page of a 100,000-entry list: whole-list read vs the order index (python -m bench.sec_list_paging)."""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import redis

from bench.stats import summarize
from common.keys import RedisKeys
from dashapp.store.list_entries import EntryIn
from dashapp.store.lists import ListStore
from dashapp.views.lists_view import PAGE_ENTRIES, page_of

REPS = 7


def _ms(fn: Callable[[], Any], reps: int = REPS) -> dict[str, Any]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {
        k: round(v, 2) if isinstance(v, float) else v for k, v in summarize(times).items() if k != "values"
    }


def measure(store: ListStore, keys: RedisKeys, client: redis.Redis, name: str) -> dict[str, Any]:
    """Each timing interleaves the two ways, so both see the same load on a shared machine."""
    out: dict[str, Any] = {}
    store.page(name, 0, PAGE_ENTRIES)  # build the order once (timed separately below)
    out["page 1000, whole list read (before), ms"] = _ms(lambda: page_of(store.iter_entries(name), 1000))
    out["page 1000, order index (after), ms"] = _ms(lambda: store.page(name, 1000, PAGE_ENTRIES))
    out["contains 'c-0012', whole list read (before), ms"] = _ms(
        lambda: page_of(store.iter_entries(name), 0, "c-0012")
    )
    out["contains 'c-0012', order index (after), ms"] = _ms(
        lambda: store.page(name, 0, PAGE_ENTRIES, "c-0012")
    )
    n = [0]

    def one_change_then_page() -> None:
        n[0] += 1
        store.add(name, [EntryIn(f"new-{n[0]}")], "bench")
        store.page(name, 0, PAGE_ENTRIES)

    out["1 entry added, then a page (after: delta), ms"] = _ms(one_change_then_page)

    def lost_then_page() -> None:
        client.delete(keys.list_order(name))
        store.page(name, 0, PAGE_ENTRIES)

    out["order rebuilt from the list, then a page, ms"] = _ms(lost_then_page, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis_url)
    keys = RedisKeys(prefix=f"bench-lp-{secrets.token_hex(4)}:")
    store = ListStore(client, keys)
    try:
        store.put("cards", [EntryIn(f"C-{i:07d}") for i in range(args.entries)], "bench")
        print(json.dumps({"entries": args.entries, **measure(store, keys, client, "cards")}, indent=2))
    finally:
        for key in client.scan_iter(match=f"{keys.prefix}*", count=1000):
            client.unlink(key)


if __name__ == "__main__":
    main()
