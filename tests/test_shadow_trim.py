"""The shadow keys' trim on real Redis: far more over the cap than Lua's unpack() takes at once."""

from __future__ import annotations

import pytest
import redis

from bridge.shadow_plan import TRIM
from common.keys import RedisKeys

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("over", [0, 1, 999, 12_345])  # 12,345: beyond unpack()'s ~8,000 values
def test_trim_keeps_the_newest_up_to_the_cap(redis_client: redis.Redis, redis_prefix: str, over: int) -> None:
    keys, cap = RedisKeys(redis_prefix), 50
    total = cap + over
    pipe = redis_client.pipeline(transaction=False)
    for start in range(0, total, 5_000):
        ids = [f"a{i:06d}" for i in range(start, min(total, start + 5_000))]
        pipe.zadd(keys.shadow_alerts, {a: i for i, a in enumerate(ids, start)})
        pipe.hset(keys.shadow_pairs, mapping=dict.fromkeys(ids, "{}"))
    pipe.execute()

    assert redis_client.eval(TRIM, 2, keys.shadow_alerts, keys.shadow_pairs, cap) == over

    kept = [m.decode() for m in redis_client.zrange(keys.shadow_alerts, 0, -1)]
    assert kept == [f"a{i:06d}" for i in range(over, total)]  # the oldest went, in score order
    assert sorted(k.decode() for k in redis_client.hkeys(keys.shadow_pairs)) == kept
