"""The fenced Redis sink: WATCH the offsets hash, verify offsets, apply a write plan in MULTI/EXEC.

It talks RESP over one dedicated connection so that WATCH + HMGET + MGET cost one round trip and
MULTI ... EXEC another, whatever the batch size.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import redis
from redis.exceptions import ResponseError

from bridge.resp import Command, pack
from common.keys import RedisKeys

logger = logging.getLogger(__name__)


class SinkUnavailable(Exception):
    """Redis did not answer; nothing of the batch may be assumed written or not written."""


class Fenced(Exception):
    """Someone else advanced these partitions: {partition: stored next offset (None = none)}."""

    def __init__(self, stored: Mapping[int, int | None]) -> None:
        super().__init__(f"fenced partitions={dict(stored)}")
        self.stored = dict(stored)


def fence_conflicts(
    first: Mapping[int, int], stored: Mapping[int, int | None], positions: Mapping[int, int | None]
) -> dict[int, int | None]:
    """Partitions whose batch does not start exactly at the Redis-stored next offset.

    `first`: first offset of the batch per partition; `stored`: Redis next offsets; `positions`:
    where this consumer believes it was fetching from. A batch starting above the stored offset is
    fine only if we fetched from exactly that offset (Kafka skipped offsets: retention,
    compaction, transaction markers); anything else means someone else owns the partition now.
    """
    conflicts: dict[int, int | None] = {}
    for p, f in first.items():
        s = stored.get(p)
        if s is None or f == s or (f > s and positions.get(p) == s):
            continue
        conflicts[p] = s
    return conflicts


class Prepared(NamedTuple):
    """What the sink read under WATCH: stored next offsets and the raw card states asked for."""

    stored: dict[int, int | None]
    states: dict[str, bytes | None]


def _int_or_none(raw: Any) -> int | None:
    return None if raw is None else int(raw)


class RedisSink:
    """Executes prepared write plans atomically; a plan applies only if no one moved our offsets."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, topic: str, watch_retries: int = 8) -> None:
        self._pool = client.connection_pool
        self._conn: Any = None
        self._keys, self._offsets_key = keys, keys.offsets(topic)
        self._retries = watch_retries
        self._pending: tuple[Sequence[Command], dict[int, int | None], int] | None = None  # sent commit

    def close(self) -> None:
        """Drop the dedicated connection (WATCH state dies with it)."""
        if self._conn is not None:
            self._conn.disconnect()
            self._pool.release(self._conn)
            self._conn = None
        self._pending = None

    def _send(self, commands: Sequence[Command]) -> None:
        if self._pending is not None:
            raise RuntimeError("bridge: a commit is still unconfirmed")  # replies would interleave
        if self._conn is None:
            try:
                self._conn = self._pool.get_connection()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                raise SinkUnavailable(str(exc)) from exc
        try:
            self._conn.send_packed_command([pack(commands)], check_health=False)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._conn.disconnect()
            raise SinkUnavailable(str(exc)) from exc

    def _read(self, count: int) -> list[Any]:
        """Read `count` replies (errors become ResponseError values)."""
        conn = self._conn
        try:
            replies: list[Any] = []
            for _ in range(count):
                try:
                    replies.append(conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            return replies
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            conn.disconnect()
            raise SinkUnavailable(str(exc)) from exc
        except BaseException:
            conn.disconnect()  # a half-read reply stream cannot be reused
            raise

    def _roundtrip(self, commands: Sequence[Command]) -> list[Any]:
        """Send all commands in one write, read every reply (errors become ResponseError values)."""
        self._send(commands)
        return self._read(len(commands))

    def prepare(self, partitions: Sequence[int], card_keys: Sequence[str]) -> Prepared:
        """WATCH the offsets hash and read offsets + card states in one round trip."""
        commands: list[Command] = [
            ("UNWATCH",),
            ("WATCH", self._offsets_key),
            ("HMGET", self._offsets_key, *partitions),
        ]
        if card_keys:
            commands.append(("MGET", *card_keys))
        replies = self._roundtrip(commands)
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise reply
        stored = {p: _int_or_none(v) for p, v in zip(partitions, replies[2], strict=True)}
        states = dict(zip(card_keys, replies[3], strict=True)) if card_keys else {}
        return Prepared(stored, states)

    def send_commit(self, plan: Sequence[Command], expected: Mapping[int, int | None]) -> None:
        """Send `plan` in MULTI/EXEC without waiting for Redis; confirm() must come next."""
        commands: list[Command] = [("MULTI",), *plan, ("EXEC",)]
        self._send(commands)
        self._pending = (plan, dict(expected), len(commands))

    @property
    def unconfirmed(self) -> bool:
        """Whether a sent commit's outcome has not been read yet."""
        return self._pending is not None

    def confirm(self) -> None:
        """Read the outcome of the commit in flight; raise Fenced or SinkUnavailable if it failed.

        A WatchError caused by another instance writing *other* partitions is not a conflict:
        re-WATCH, re-check our partitions and retry the same plan.
        """
        if self._pending is None:
            return
        plan, expected, count = self._pending
        try:
            result = self._read(count)[-1]
        finally:
            self._pending = None
        if self._applied(result):
            return
        partitions = sorted(expected)
        for _ in range(self._retries - 1):
            replies = self._roundtrip(
                [("WATCH", self._offsets_key), ("HMGET", self._offsets_key, *partitions)]
            )
            current = {p: _int_or_none(v) for p, v in zip(partitions, replies[1], strict=True)}
            moved = {p: current[p] for p in partitions if current[p] != expected[p]}
            if moved:
                self._roundtrip([("UNWATCH",)])
                raise Fenced(moved)
            if self._applied(self._roundtrip([("MULTI",), *plan, ("EXEC",)])[-1]):
                return
        self._roundtrip([("UNWATCH",)])
        raise Fenced(dict(expected))

    @staticmethod
    def _applied(result: Any) -> bool:
        """True if EXEC ran the plan, False if WATCH aborted it."""
        if isinstance(result, ResponseError):
            raise result  # EXECABORT: a malformed command; a bug, not a conflict
        if result is None:
            return False
        errors = [r for r in result if isinstance(r, ResponseError)]
        if errors:  # applied except these (Redis has no rollback); keys clobbered by hand?
            logger.error("bridge: commands failed inside EXEC count=%d first=%s", len(errors), errors[0])
        return True
