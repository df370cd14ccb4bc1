"""The state comparison itself: it must see double counts, lost keys and duplicate stream entries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from tests.faults.snapshot import differences, snapshot

pytestmark = pytest.mark.integration


def _write(client: redis.Redis, prefix: str, txns: int, extra_entry: bool = False) -> None:
    client.hset(f"{prefix}totals", mapping={"txns": txns, "amount": "10.100000000000001"})
    client.set(f"{prefix}card:C1", b"[1,2]")
    client.zadd(f"{prefix}alerts:index", {"a1": 5})
    client.hset(f"{prefix}alert:a1", mapping={"d": "{}", "updated_at": txns})  # wall clock: ignored
    client.set(f"{prefix}last_write", txns)  # ignored
    client.xadd(f"{prefix}txns", {"d": b'{"txn_id":"t1","amount":1.0}'})
    if extra_entry:
        client.xadd(f"{prefix}txns", {"d": b'{"txn_id":"t1","amount":1.0}'})


def test_equal_states_compare_equal_and_faults_are_reported(
    redis_url: str, redis_client: redis.Redis, prefix_factory: Callable[[str, str], str]
) -> None:
    a, b, c = (prefix_factory(redis_url, n) for n in ("snap-a", "snap-b", "snap-c"))
    _write(redis_client, a, 3)
    _write(redis_client, b, 4, extra_entry=True)  # double counted, duplicate stream entry
    redis_client.hset(f"{b}totals", "txns", 3)
    _write(redis_client, c, 3)
    redis_client.delete(f"{c}card:C1")
    assert differences(snapshot(redis_client, a), snapshot(redis_client, a)) == []
    diff_b = "\n".join(differences(snapshot(redis_client, a), snapshot(redis_client, b)))
    assert "duplicate entries" in diff_b and "updated_at" not in diff_b
    redis_client.hset(f"{b}totals", "txns", 4)
    ref = snapshot(redis_client, a)
    assert "totals" in "\n".join(differences(ref, snapshot(redis_client, b)))
    assert "missing from the run" in "\n".join(differences(ref, snapshot(redis_client, c)))
