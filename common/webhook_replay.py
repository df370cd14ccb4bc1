"""Dead-letter replay: admins queue dead letters again on a Redis stream; notifiers claim and ack them.

A Redis stream with a consumer group is the queue: each entry goes to one notifier (XREADGROUP),
stays pending until that notifier has delivered it or dead-lettered it again (XACK + XDEL), and is
taken over by another notifier (XAUTOCLAIM) when the one that claimed it died before finishing.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from common.keys import RedisKeys

GROUP = "notifier"
# A claimed replay still unfinished after this long is taken over: longer than a whole retry cycle
# (10 attempts, backoff capped at 60 s), so only a notifier that died loses its claims.
CLAIM_IDLE_MS = 15 * 60 * 1000
CLAIM_BATCH = 100


def replayable(letter: dict[str, Any]) -> bool:
    """A dead letter that carries its event (letters kept before replays existed carry only the body)."""
    return isinstance(letter.get("event"), dict) and bool(letter.get("endpoint_id"))


def queue_dead_letters(
    client: redis.Redis, keys: RedisKeys, endpoint_id: str | None = None
) -> tuple[int, int]:
    """Move the dead letters (of one endpoint, or every one) onto the replay stream, oldest first.

    Returns (queued, kept): kept are letters without their event, left in the dead list for a
    replay by hand. One optimistic transaction: a letter is either moved or left, never both.
    """
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(keys.webhook_dead)
                raws: list[bytes] = pipe.lrange(keys.webhook_dead, 0, -1)  # type: ignore[assignment]
                chosen, kept = [], 0
                for raw in reversed(raws):  # the list is newest first
                    letter = json.loads(raw)
                    if endpoint_id and letter.get("endpoint_id") != endpoint_id:
                        continue
                    if replayable(letter):
                        chosen.append(raw)
                    else:
                        kept += 1
                pipe.multi()
                for raw in chosen:
                    pipe.xadd(keys.webhook_replay, {"letter": raw})
                    pipe.lrem(keys.webhook_dead, 1, raw)  # type: ignore[arg-type]  # bytes as stored
                pipe.execute()
                return len(chosen), kept
            except redis.WatchError:  # a notifier added a dead letter meanwhile: read again
                continue


class ReplayClaims:
    """One notifier's side of the replay stream: claim entries, acknowledge them when finished."""

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, consumer: str, claim_idle_ms: int = CLAIM_IDLE_MS
    ) -> None:
        self._r, self._key, self._consumer, self._idle = client, keys.webhook_replay, consumer, claim_idle_ms
        self._restarted = True  # the first claim also takes back what this consumer left unfinished

    def ensure_group(self) -> None:
        """Create the stream and the group if missing (every notifier may; the first one wins)."""
        try:
            self._r.xgroup_create(self._key, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def claim(self, count: int = CLAIM_BATCH) -> list[tuple[str, dict[str, Any] | None]]:
        """As _claim; a stream deleted meanwhile (its group with it) is made again first."""
        try:
            return self._claim(count)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()
            return self._claim(count)

    def _claim(self, count: int) -> list[tuple[str, dict[str, Any] | None]]:
        """Entries a dead notifier left unfinished, then new ones: (entry id, letter; None: unreadable)."""
        entries: list[Any] = []
        if self._restarted:  # its own pending entries, from before a restart under the same name
            own: Any = self._r.xreadgroup(GROUP, self._consumer, {self._key: "0"}, count=count)
            entries += [e for _stream, items in own or [] for e in items]
            self._restarted = False
        stale: Any = self._r.xautoclaim(self._key, GROUP, self._consumer, self._idle, "0-0", count=count)
        fresh: Any = self._r.xreadgroup(GROUP, self._consumer, {self._key: ">"}, count=count)
        entries += list(stale[1]) + [e for _stream, items in fresh or [] for e in items]
        out = []
        for entry_id, fields in entries:
            raw = (fields or {}).get(b"letter")
            try:
                letter = json.loads(raw) if raw is not None else None
            except ValueError:
                letter = None
            out.append((entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id), letter))
        return out

    def ack(self, entry_id: str) -> None:
        """The replay is finished (delivered, dead again or cancelled): it leaves the stream."""
        with self._r.pipeline(transaction=True) as pipe:
            pipe.xack(self._key, GROUP, entry_id)
            pipe.xdel(self._key, entry_id)
            pipe.execute()
