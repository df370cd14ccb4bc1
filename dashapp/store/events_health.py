"""The alert-events outbox on the health panel: entries the relay has not published yet, its last
progress, and the webhook notifier's counters."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from common.keys import RedisKeys
from dashapp.store._codec import opt_float, str_hash, text, to_int

# A running relay polls every 0.2 s (OUTBOX_RELAY_POLL_S): an entry waiting a minute means it is
# stopped, stuck on Kafka, or far behind; a minute also rides out a broker restart without flapping.
RELAY_STALE_S = 60.0
# Entries waiting at once: a burst of bulk actions makes a few hundred, which a running relay sends
# in one or two rounds (OUTBOX_RELAY_BATCH = 500).
BACKLOG_WARN = 1_000


@dataclass(frozen=True)
class EventsHealth:
    """The outbox relay's backlog and progress, and the notifier's delivery counters."""

    waiting: int = 0  # entries in the outbox, not yet published to the alert-events topic
    oldest_age_s: float | None = None  # how long the oldest of them has waited
    relay_age_s: float | None = None  # since the relay last published (None: never seen)
    published: int = 0
    invalid: int = 0  # entries that were not events, moved to events:dead
    webhooks_delivered: int = 0
    webhooks_dead: int = 0  # dead letters (given up after the last retry)
    webhooks_failed_attempts: int = 0
    warning: str = ""  # why the panel warns, "" when all is well


def _ms_of_id(entry_id: object) -> int | None:
    """`1796565600000-3` -> 1796565600000 (a stream id starts with its epoch ms)."""
    ms = (text(entry_id) or "").partition("-")[0]
    return int(ms) if ms.isdigit() else None


def _age(now_ms: int, then_ms: float | None) -> float | None:
    return None if then_ms is None else max(0.0, (now_ms - then_ms) / 1000)


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def events_warning(waiting: int, oldest_age_s: float | None, relay_age_s: float | None) -> str:
    """Why the outbox needs a look, in words; "" when the relay keeps up."""
    if not waiting:
        return ""  # an idle relay with nothing to send is healthy, however long ago it last sent
    problems = []
    if relay_age_s is None:
        problems.append("the relay has not published anything yet")
    elif relay_age_s > RELAY_STALE_S:
        problems.append(f"the relay last published {_duration(relay_age_s)} ago")
    if oldest_age_s is not None and oldest_age_s > RELAY_STALE_S:
        problems.append(f"the oldest event has waited {_duration(oldest_age_s)}")
    if waiting >= BACKLOG_WARN:
        problems.append(f"{waiting:,} events are waiting")
    return f"Outbox backlog: {'; '.join(problems)}." if problems else ""


def queue_reads(pipe: redis.client.Pipeline, keys: RedisKeys) -> None:
    """Queue the four reads `from_replies` takes, in this order, on a non-transactional pipeline."""
    pipe.xlen(keys.events_outbox)
    # The oldest entry comes with its payload (a list change's part is up to ~650 KB). Measured on
    # the local Redis (once, load ~11 on 2 cores): 0.67 ms median with such an entry, 0.08 ms with an
    # ordinary one; a Lua script returning only the id took 1.5 ms (Lua copies the entry), so XRANGE.
    pipe.xrange(keys.events_outbox, "-", "+", count=1)
    pipe.hgetall(keys.events_relay)
    pipe.hgetall(keys.webhook_stats)


def from_replies(replies: list[object], keys: RedisKeys, now_ms: int) -> EventsHealth:
    """Build the outbox's health from the replies of `queue_reads` (errors read as missing)."""
    waiting_raw, oldest, relay_raw, hooks_raw = replies
    waiting = max(0, to_int(waiting_raw, key=keys.events_outbox))
    relay, hooks = str_hash(relay_raw), str_hash(hooks_raw)
    first = oldest[0] if isinstance(oldest, list) and oldest else None
    oldest_ms = _ms_of_id(first[0]) if waiting and isinstance(first, list | tuple) and first else None
    oldest_age = _age(now_ms, oldest_ms)
    relay_age = _age(now_ms, opt_float(relay.get("at_ms"), key=keys.events_relay))
    return EventsHealth(
        waiting=waiting,
        oldest_age_s=oldest_age,
        relay_age_s=relay_age,
        published=to_int(relay.get("published"), key=keys.events_relay),
        invalid=to_int(relay.get("invalid"), key=keys.events_relay),
        webhooks_delivered=to_int(hooks.get("delivered"), key=keys.webhook_stats),
        webhooks_dead=to_int(hooks.get("dead"), key=keys.webhook_stats),
        webhooks_failed_attempts=to_int(hooks.get("failed_attempts"), key=keys.webhook_stats),
        warning=events_warning(waiting, oldest_age, relay_age),
    )
