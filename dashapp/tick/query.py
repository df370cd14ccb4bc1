"""The live tick's request, `GET /api/tick?since=&window=&paused=&view=`, parsed and checked (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

TICK_PATH = "/api/tick"
WINDOWS_MIN = (5, 15, 60)  # the throughput window choices of the page, minutes
MAX_QUERY = 6000  # the cursors are ~400 bytes URL-encoded; gunicorn's request line limit is 8190
_FLAGS = {"0": False, "1": True, "false": False, "true": True}


class BadTick(ValueError):
    """A tick request that cannot be answered; the message says why (sent back with a 400)."""


@dataclass(frozen=True)
class TickQuery:
    """One poll: the page's cursors (None on a fresh page) and its view of the live section."""

    since: dict[str, Any] | None = None  # the `tick-state.data` of the previous answer, as sent back
    window_min: int = 5
    paused: bool = False
    view_changed: bool = False  # the user changed the window or pause: charts may be rebuilt whole

    @property
    def view(self) -> dict[str, Any]:
        """The view as the tick builder reads it."""
        return {"window_min": self.window_min, "paused": self.paused}


def _flag(name: str, value: str | None) -> bool:
    if value is None:
        return False
    if value not in _FLAGS:
        raise BadTick(f"{name} must be 0 or 1")
    return _FLAGS[value]


def _since(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        cursors = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise BadTick("since is not the cursor object of a previous answer") from None
    if not isinstance(cursors, dict):
        raise BadTick("since is not the cursor object of a previous answer")
    return cursors  # its fields are typed and checked by the builder (dashapp.tick.cursors)


def parse_tick_query(raw: bytes) -> TickQuery:
    """The poll a raw query string asks for; raises BadTick with the reason when it is malformed.

    Unknown parameters are ignored (e.g. a cache buster); a repeated one is an error.
    """
    if len(raw) > MAX_QUERY:
        raise BadTick("query string too long")
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=12)
    except (UnicodeDecodeError, ValueError):
        raise BadTick("malformed query string") from None
    args: dict[str, str] = {}
    for name, value in pairs:
        if name in args:
            raise BadTick(f"{name} given twice")
        args[name] = value
    window = args.get("window", "5")
    if not window.isdigit() or int(window) not in WINDOWS_MIN:
        raise BadTick(f"window must be one of {', '.join(map(str, WINDOWS_MIN))} (minutes)")
    return TickQuery(
        since=_since(args.get("since")),
        window_min=int(window),
        paused=_flag("paused", args.get("paused")),
        view_changed=_flag("view", args.get("view")),
    )
