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

from bridge.plan import Command
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


_PACKED: dict[str, bytes] = {}  # str argument -> RESP bulk string: key names and verbs repeat every batch
_PACKED_MAX = 50_000


def pack(commands: Sequence[Command]) -> bytes:
    """Encode commands in RESP2 (about twice as fast as redis-py's generic packer for big plans)."""
    out: list[bytes] = []
    append = out.append
    memo = _PACKED
    for cmd in commands:
        append(b"*%d\r\n" % len(cmd))
        for arg in cmd:
            if type(arg) is bytes:
                append(b"$%d\r\n%s\r\n" % (len(arg), arg))
                continue
            if type(arg) is str:
                packed = memo.get(arg)
                if packed is None:
                    b = arg.encode()
                    packed = b"$%d\r\n%s\r\n" % (len(b), b)
                    if len(memo) < _PACKED_MAX:
                        memo[arg] = packed
                append(packed)
                continue
            if type(arg) is float:
                b = repr(arg).encode()
            elif type(arg) is int:
                b = b"%d" % arg
            else:
                raise TypeError(f"cannot send {type(arg).__name__} to Redis")
            append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RedisSink:
    """Executes prepared write plans atomically; a plan applies only if no one moved our offsets."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, topic: str, watch_retries: int = 8) -> None:
        self._pool = client.connection_pool
        self._conn: Any = None
        self._keys, self._offsets_key = keys, keys.offsets(topic)
        self._retries = watch_retries

    def close(self) -> None:
        """Drop the dedicated connection (WATCH state dies with it)."""
        if self._conn is not None:
            self._conn.disconnect()
            self._pool.release(self._conn)
            self._conn = None

    def _roundtrip(self, commands: Sequence[Command]) -> list[Any]:
        """Send all commands in one write, read every reply (errors become ResponseError values)."""
        if self._conn is None:
            try:
                self._conn = self._pool.get_connection()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                raise SinkUnavailable(str(exc)) from exc
        conn = self._conn
        try:
            conn.send_packed_command([pack(commands)], check_health=False)
            replies: list[Any] = []
            for _ in commands:
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

    def stored_offsets(self, partitions: Sequence[int]) -> dict[int, int | None]:
        """Read the next offsets stored for `partitions` (no WATCH)."""
        if not partitions:
            return {}
        (values,) = self._roundtrip([("HMGET", self._offsets_key, *partitions)])
        return {p: _int_or_none(v) for p, v in zip(partitions, values, strict=True)}

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

    def commit(self, plan: Sequence[Command], expected: Mapping[int, int | None]) -> None:
        """Apply `plan` in MULTI/EXEC if `expected` still holds; raise Fenced if it does not.

        A WatchError caused by another instance writing *other* partitions is not a conflict:
        re-WATCH, re-check our partitions and retry the same plan.
        """
        partitions = sorted(expected)
        for _ in range(self._retries):
            replies = self._roundtrip([("MULTI",), *plan, ("EXEC",)])
            result = replies[-1]
            if isinstance(result, ResponseError):
                raise result  # EXECABORT: a malformed command; a bug, not a conflict
            if result is not None:
                errors = [r for r in result if isinstance(r, ResponseError)]
                if errors:  # applied except these (Redis has no rollback); keys clobbered by hand?
                    logger.error(
                        "bridge: commands failed inside EXEC count=%d first=%s", len(errors), errors[0]
                    )
                return
            replies = self._roundtrip(
                [("WATCH", self._offsets_key), ("HMGET", self._offsets_key, *partitions)]
            )
            current = {p: _int_or_none(v) for p, v in zip(partitions, replies[1], strict=True)}
            moved = {p: current[p] for p in partitions if current[p] != expected[p]}
            if moved:
                self._roundtrip([("UNWATCH",)])
                raise Fenced(moved)
        self._roundtrip([("UNWATCH",)])
        raise Fenced(dict(expected))
