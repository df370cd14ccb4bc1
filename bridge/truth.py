"""Ground-truth bookkeeping of one batch: fraud instances in progress, finished, caught (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bridge.resp import Command
from common.keys import EVAL_OPEN_MAX, RedisKeys

# Adds instance ids to an open set and keeps it at most ARGV[1] big: ids of instances whose last
# event never comes (a producer stopped mid-instance, forged headers) would otherwise pile up for
# ever. SPOP drops arbitrary ones; ARGV[2] (when not '') counts them in the HASH KEYS[2].
# A loop, not unpack(): a batch may carry more ids than Lua's stack takes at once.
OPEN_IDS = (
    "for i = 3, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end "
    "local over = redis.call('SCARD', KEYS[1]) - tonumber(ARGV[1]) "
    "if over > 0 then local gone = redis.call('SPOP', KEYS[1], over) "
    "if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[2], #gone) end end "
    "return over"
)
# Closes the instances whose last event this batch processed (ARGV[2..]) of scenario ARGV[1]: an
# id still open counts as finished, and as finished_caught if it is in the caught set; both sets
# forget it. An id no longer open (dropped as abandoned) is not counted twice.
FINISH = (
    "local n, c = 0, 0 "
    "for i = 2, #ARGV do if redis.call('SREM', KEYS[1], ARGV[i]) == 1 then n = n + 1 "
    "if redis.call('SREM', KEYS[2], ARGV[i]) == 1 then c = c + 1 end end end "
    "if n > 0 then redis.call('HINCRBY', KEYS[3], 'finished:' .. ARGV[1], n) end "
    "if c > 0 then redis.call('HINCRBY', KEYS[3], 'finished_caught:' .. ARGV[1], c) end "
    "return n"
)


def truth_commands(
    keys: RedisKeys,
    seen: Iterable[tuple[str, Sequence[str]]],
    caught: Mapping[str, set[str]],
    finished: Iterable[tuple[str, str]],
) -> list[Command]:
    """Open the instances `seen`, mark `caught` ones, then close the `finished` (scenario, id)s.

    Order matters: an instance may start, alert and finish within one batch.
    """
    out: list[Command] = []
    for scenario, ids in seen:
        if ids:
            open_key = keys.eval_instances(scenario)
            abandoned = f"abandoned:{scenario}"
            out.append(
                ("EVAL", OPEN_IDS, 2, open_key, keys.eval_counts, EVAL_OPEN_MAX, abandoned, *sorted(set(ids)))
            )
    for scenario, hit in caught.items():
        out.append(
            (
                "EVAL",
                OPEN_IDS,
                2,
                keys.eval_caught(scenario),
                keys.eval_counts,
                EVAL_OPEN_MAX,
                "",
                *sorted(hit),
            )
        )
    done: dict[str, list[str]] = {}
    for scenario, sid in finished:
        done.setdefault(scenario, []).append(sid)
    for scenario, ids in done.items():
        instances, hit_key = keys.eval_instances(scenario), keys.eval_caught(scenario)
        out.append(("EVAL", FINISH, 3, instances, hit_key, keys.eval_counts, scenario, *ids))
    return out
