"""Pure helpers that speak the dashboard's live-tick route as its page does (no I/O)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TICK_PATH = "/api/tick"  # the route dashapp.tick serves (its docstring is the contract)
CURSORS = b'"tick-state.data":'  # the answer's key for the cursors the page sends back as `since`
_DECODER = json.JSONDecoder()


def csrf_from_login_page(html: str) -> str:
    """The hidden form token of the login page."""
    match = CSRF_RE.search(html)
    if not match:
        raise ValueError("bench: no csrf_token in the login page")
    return match.group(1)


class TickPoller:
    """One open page's live tick: the URL of its next poll, and the cursors fed back from answers."""

    def __init__(self, window_min: int = 5) -> None:
        self.window_min = window_min
        self.since: Any = None  # a fresh page has no cursors

    def target(self) -> str:
        """The request target of the next poll (as assets/tick.js builds it)."""
        url = f"{TICK_PATH}?window={self.window_min}&paused=0&view=0"
        if isinstance(self.since, dict):
            url += "&since=" + quote(json.dumps(self.since, separators=(",", ":")), safe="")
        return url

    def apply_raw(self, status: int, body: bytes) -> bool:
        """Feed the cursors of an answer back without parsing all of it; True if anything changed.

        A load generator cannot afford to parse every 20 KB answer the way a browser does; it decodes
        only the cursors (a key pattern with bare quotes cannot occur inside a JSON string, where
        quotes are escaped). 204 is "nothing changed". Raises ValueError if the answer is malformed.
        """
        if status == 204:
            return False
        if not (body.startswith(b"{") and body.endswith(b"}")):
            raise ValueError("bench: not a tick answer")
        at = body.rfind(CURSORS)
        if at < 0:
            raise ValueError("bench: a tick answer without cursors")
        value, _ = _DECODER.raw_decode(body[at + len(CURSORS) :].decode())
        if not isinstance(value, dict):
            raise ValueError("bench: tick cursors are not an object")
        self.since = value
        return True
