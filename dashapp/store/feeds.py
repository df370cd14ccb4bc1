"""Cursor-based reads of the live streams (recent transactions and alerts)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import redis

from common.alerts import Alert, decode_alert
from dashapp.store._codec import text, valid_stream_id
from dashapp.store.models import TxnRow

logger = logging.getLogger(__name__)

T = TypeVar("T")
EMPTY_CURSOR = "0-0"  # "everything": returned for an empty stream so no later entry is missed
_txn_decoder = msgspec.json.Decoder(TxnRow)


def decode_txn(entry_id: str, raw: bytes) -> TxnRow:
    """Decode one `txns` entry payload; raise ValueError if it is not a transaction row."""
    try:
        row = _txn_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    return dataclasses.replace(row, entry_id=entry_id)


def decode_stream_alert(entry_id: str, raw: bytes) -> Alert:
    """Decode one `alerts` entry payload; raise ValueError (AlertDecodeError) if malformed."""
    del entry_id
    return decode_alert(raw)


def decode_stream_entry(entry_id: str, raw: bytes) -> tuple[str, Alert]:
    """Decode one `alerts` entry payload keeping its entry id; raise ValueError if malformed."""
    return entry_id, decode_alert(raw)


def _fetch(client: redis.Redis, key: str, cursor: str | None, limit: int, tail: bool) -> list[Any]:
    if cursor is None:
        return list(reversed(client.xrevrange(key, count=limit) or []))
    if tail:  # only the newest `limit` after the cursor: a live view that may skip a backlog
        return list(reversed(client.xrevrange(key, max="+", min="(" + cursor, count=limit) or []))
    return list(client.xrange(key, min="(" + cursor, max="+", count=limit) or [])


def read_since(
    client: redis.Redis,
    key: str,
    cursor: str | None,
    limit: int,
    decode: Callable[[str, bytes], T],
    *,
    tail: bool = False,
    max_limit: int = 2000,
) -> tuple[list[T], str | None]:
    """Return decoded entries after ``cursor`` (oldest first) and the cursor to pass next time.

    ``cursor`` None (or not a stream id) returns the newest ``limit`` entries. Undecodable
    entries are logged and skipped, but the cursor still moves past them.
    """
    cursor = valid_stream_id(cursor)
    limit = max(1, min(int(limit), max_limit))
    entries = _fetch(client, key, cursor, limit, tail)
    rows: list[T] = []
    new_cursor = cursor
    for raw_id, fields in entries:
        entry_id = text(raw_id) or ""
        new_cursor = entry_id
        payload = fields.get(b"d", fields.get("d")) if isinstance(fields, dict) else None
        try:
            if payload is None:
                raise ValueError("no `d` field")
            rows.append(decode(entry_id, payload))
        except ValueError as exc:  # includes the alert decode error
            logger.warning("store: undecodable entry skipped key=%s id=%s error=%s", key, entry_id, exc)
    if new_cursor is None:
        new_cursor = EMPTY_CURSOR
    return rows, new_cursor
