"""Write-plan parts for alert records with their search indexes, and the capped per-city map."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import msgspec

from bridge.resp import Command
from common.alerts import Alert, encode_alert, index_keys
from common.keys import CITIES_MAX, OTHER_CITY, RECENT_ALERTS_MAX, RedisKeys

_json = msgspec.json.Encoder()

# KEYS[1] the alert hash, KEYS[2..] the sets a still-new alert joins (status "new" index, banner).
# A replayed alert an analyst already moved on must not re-enter them: the workflow keeps its
# status index right, and a re-added banner entry would bring the RED ALERT back.
ADD_IF_NEW = (
    "if redis.call('HGET', KEYS[1], 'status') ~= 'new' then return 0 end "
    "for i = 2, #KEYS do redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2]) end return 1"
)

# One call per batch. KEYS: city_txns, city_alerts, city_geo; ARGV: cap, the "other" name, then
# (city, transactions, alerts, geo JSON or "") groups. A city not yet in the map joins it only
# while the map holds fewer than `cap` cities, otherwise it is counted under "other" and its
# coordinates are dropped: hostile or buggy city strings cannot grow the hashes (or the map).
CITY_COUNTS = (
    "local cap, other = tonumber(ARGV[1]), ARGV[2] "
    "for i = 3, #ARGV, 4 do "
    "local city, geo = ARGV[i], ARGV[i + 3] "
    "if redis.call('HEXISTS', KEYS[1], city) == 0 and redis.call('HLEN', KEYS[1]) >= cap then "
    "city, geo = other, '' end "
    "redis.call('HINCRBY', KEYS[1], city, ARGV[i + 1]) "
    "if ARGV[i + 2] ~= '0' then redis.call('HINCRBY', KEYS[2], city, ARGV[i + 2]) end "
    "if geo ~= '' then redis.call('HSET', KEYS[3], city, geo) end "
    "end return 0"
)


def alert_commands(keys: RedisKeys, alerts: Iterable[Alert], now_ms: int) -> list[Command]:
    """Record, live-stream entry and index entries of each new alert (replays change nothing)."""
    out: list[Command] = []
    for alert in alerts:
        blob, rec, aid, at = encode_alert(alert), keys.alert(alert.alert_id), alert.alert_id, alert.event_ms
        out.append(("XADD", keys.alerts, "MAXLEN", "~", RECENT_ALERTS_MAX, "*", "d", blob))
        # HSETNX per field: a replay or a second writer never resets an analyst's workflow fields.
        for field, value in (
            ("d", blob),
            ("status", "new"),
            ("version", 1),
            ("assignee", ""),
            ("updated_at", now_ms),
            ("updated_by", "bridge"),
        ):
            out.append(("HSETNX", rec, field, value))
        out.extend(("ZADD", key, at, aid) for key in (keys.alert_index, *index_keys(keys, alert)))
        if_new = [keys.alerts_by_status("new")]
        if alert.severity == "high":
            if_new.append(keys.banner)
        out.append(("EVAL", ADD_IF_NEW, 1 + len(if_new), rec, *if_new, at, aid))
    return out


def city_commands(
    keys: RedisKeys,
    cities: Iterable[tuple[str, int]],
    geo: Iterable[tuple[str, float, float, str | None]],
    alerted: Iterable[Alert],
    cap: int = CITIES_MAX,
) -> list[Command]:
    """The batch's per-city counts and coordinates, as one capped update (busiest cities first)."""
    txns: Counter[str] = Counter()
    for city, n in cities:
        txns[city] += n
    alerts = Counter(a.city for a in alerted)
    where = {
        city: _json.encode({"lat": lat, "lon": lon, "country": country}) for city, lat, lon, country in geo
    }
    names = sorted(txns.keys() | alerts.keys(), key=lambda c: (-txns[c], -alerts[c], c))
    if not names:
        return []
    args: list[str | bytes | int] = [cap, OTHER_CITY]
    for city in names:
        args += [city, txns[city], alerts[city], where.get(city, b"")]
    return [("EVAL", CITY_COUNTS, 3, keys.city_txns, keys.city_alerts, keys.city_geo, *args)]
