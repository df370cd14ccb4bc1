"""Multi-filter alert search inside Redis: one Lua call intersects the indexes, counts and pages."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from dashapp.store._codec import text, to_int

# KEYS: the single-key filters' indexes, then the keys of the one group matched by any of its keys
# (the disjoint status indexes of "open"; none if no such group). ARGV: number of single keys, low
# and high event time (integers: Lua's tonumber does not read "inf"), 1 for newest first, offset, limit.
# Every index scores an alert by its event time, so ZINTER ... AGGREGATE MAX keeps that score and
# its reply is in (time, id) order, as a walk of any one index is. The work follows the smallest
# index (ZINTER iterates it and looks the id up in the others); no key is written, nothing expires.
# Reply: {count of matches in the time range, ids of the page...}.
_LUA = """
local nsingle = tonumber(ARGV[1])
local lo, hi = tonumber(ARGV[2]), tonumber(ARGV[3])
local desc, offset, limit = ARGV[4] == '1', tonumber(ARGV[5]), tonumber(ARGV[6])
local singles = {}
for i = 1, nsingle do singles[i] = KEYS[i] end
local function inter(extra)
  local keys = {unpack(singles)}
  if extra then keys[#keys + 1] = extra end
  if #keys == 1 then
    return redis.call('ZRANGE', keys[1], ARGV[2], ARGV[3], 'BYSCORE', 'WITHSCORES')
  end
  local args = {'ZINTER', #keys, unpack(keys)}  -- unpack expands only as the last item
  for _, word in ipairs({'AGGREGATE', 'MAX', 'WITHSCORES'}) do args[#args + 1] = word end
  return redis.call(unpack(args))
end
local ids, scores = {}, {}
local function take(flat)
  for i = 1, #flat, 2 do
    local s = tonumber(flat[i + 1])
    if s >= lo and s <= hi then ids[#ids + 1] = flat[i]; scores[flat[i]] = s end
  end
end
if #KEYS == nsingle then
  take(inter(nil))
else
  for i = nsingle + 1, #KEYS do take(inter(KEYS[i])) end
  if #KEYS - nsingle > 1 then -- several disjoint indexes: merge them into one (time, id) order
    table.sort(ids, function(a, b)
      if scores[a] ~= scores[b] then return scores[a] < scores[b] end
      return a < b
    end)
  end
end
local n, out = #ids, {#ids}
for k = offset + 1, math.min(n, offset + limit) do
  out[#out + 1] = desc and ids[n + 1 - k] or ids[k]
end
return out
"""


UNBOUNDED = 2**62  # far past any event time, exact in a Lua number


def _finite(bound: int | str) -> int:
    if bound == "-inf":
        return -UNBOUNDED
    if bound == "+inf":
        return UNBOUNDED
    return int(bound)


class IndexIntersection:
    """Count and page of the alerts in every single index and in any one of the `any_of` indexes."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_LUA)

    def page(
        self,
        singles: Sequence[str],
        any_of: Sequence[str],
        bounds: tuple[int | str, int | str],
        *,
        newest_first: bool,
        offset: int,
        limit: int,
    ) -> tuple[int, list[str]]:
        """(matches in the time range, alert ids of the page in order)."""
        if not singles and not any_of:
            raise ValueError("an intersection needs at least one index")
        lo, hi = (_finite(b) for b in bounds)
        argv = [len(singles), lo, hi, 1 if newest_first else 0, offset, limit]
        reply = self._script(keys=[*singles, *any_of], args=argv)
        count, *ids = reply
        return to_int(count), [text(m) or "" for m in ids]
