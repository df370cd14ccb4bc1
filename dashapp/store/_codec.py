"""Tolerant decoding of raw Redis replies (bytes or str) into Python values."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

logger = logging.getLogger(__name__)

_STREAM_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")


def text(value: object) -> str | None:
    """Return a reply as str (bytes decoded as UTF-8), or None for a missing value."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def to_float(value: object, default: float = 0.0, *, key: str = "") -> float:
    """Parse a numeric reply; missing/empty or garbage values (logged) give ``default``."""
    raw = text(value)
    if raw is None or raw == "":
        return default
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        logger.warning("store: garbage number skipped key=%s value=%.60r", key, raw)
        return default
    return number


def to_int(value: object, default: int = 0, *, key: str = "") -> int:
    """Parse an integer reply (tolerating '12.0'); missing/empty or garbage values give ``default``."""
    raw = text(value)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return int(to_float(raw, float(default), key=key))


def opt_float(value: object, *, key: str = "") -> float | None:
    """Parse a numeric reply, keeping "missing or garbage" distinguishable as None."""
    number = to_float(value, math.nan, key=key)
    return None if math.isnan(number) else number


def load_json(value: object, *, key: str = "") -> Any:
    """Parse a JSON reply; garbage (logged) or missing values give None."""
    raw = text(value)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        logger.warning("store: undecodable JSON skipped key=%s value=%.80r", key, raw)
        return None


def str_hash(reply: object) -> dict[str, str]:
    """Turn an HGETALL reply into a str -> str dict (missing key gives {})."""
    if not isinstance(reply, dict):
        return {}
    return {text(k) or "": text(v) or "" for k, v in reply.items()}


def valid_stream_id(cursor: object) -> str | None:
    """Return ``cursor`` if it looks like a stream entry id, else None (client data is untrusted)."""
    if isinstance(cursor, str) and _STREAM_ID.match(cursor):
        return cursor
    return None
