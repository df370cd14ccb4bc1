"""WSGI front for the refresh tick: a signed-in tab's poll answered without Flask's per-request work.

Under gunicorn a Flask request costs about as much CPU as gunicorn itself; with hundreds of tabs
polling once a second that is most of the dashboard's load. This front answers only the plain case:
a POST of the registered tick callback, JSON, within the size limit, carrying a valid session cookie
of an existing user, whose session is still open (not logged out; dashapp.auth.sessions), and a body
that matches the callback. The answer is the one Flask's fast path gives
(dashapp.callbacks.tick_fast), with the same headers. Everything else, including every error case,
goes to Flask unchanged (with the body put back), so refusals keep one implementation.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Flask
from werkzeug.http import parse_cookie

from dashapp.auth.core import app_auth, session_user
from dashapp.auth.session_cache import CachedCookieSessionInterface
from dashapp.auth.users import UserDirectory
from dashapp.callbacks.tick_fast import Tick, TickAnswer, tick_args
from dashapp.security import CALLBACK_PATH, SECURITY_HEADERS, callback_body_problem

logger = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TickFront:
    """Wraps a Flask app's WSGI callable; see the module docstring for what it answers itself."""

    def __init__(
        self,
        server: Flask,
        users: UserDirectory,
        output: str,
        make_answer: TickAnswer,
        tick: Tick,
    ) -> None:
        self.server, self.users, self.output, self.tick = server, users, output, tick
        self.make_answer = make_answer
        self.inner: WsgiApp = server.wsgi_app
        self.callback_map: dict[str, Any] = {}  # the Dash app's, set once the callbacks are registered
        self._max_body = int(server.config.get("MAX_CONTENT_LENGTH") or 1_000_000)
        self._cookie = str(server.config.get("SESSION_COOKIE_NAME") or "session")
        self.answered = 0  # ticks answered here (not by Flask); approximate under threads

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != CALLBACK_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        raw = self._body(environ)
        body = self._answerable(environ, raw) if raw is not None else None
        if body is None:
            return self.inner(environ, start_response)
        view, prev, view_changed = tick_args(body)
        data = self.make_answer(self.tick(view, prev, view_changed))
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        headers += [*SECURITY_HEADERS, ("Cache-Control", "no-store"), ("Vary", "Cookie")]
        start_response("200 OK", headers)
        self.answered += 1
        return [data]

    def _body(self, environ: dict[str, Any]) -> bytes | None:
        """The request body, put back for Flask; None when it is not a plain JSON body in the limit."""
        ctype = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            return None
        if ctype != "application/json" or not 0 < length <= self._max_body:
            return None
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        return bytes(raw) if len(raw) == length else None

    def _answerable(self, environ: dict[str, Any], raw: bytes) -> dict[str, Any] | None:
        """The parsed tick body if a signed-in user sent a well-formed tick; None: let Flask decide."""
        if not self._signed_in(environ):
            return None
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, dict) or body.get("output") != self.output:
            return None
        return None if callback_body_problem(body, self.callback_map) else body

    def _signed_in(self, environ: dict[str, Any]) -> bool:
        header = environ.get("HTTP_COOKIE")
        if not header:
            return False
        value = parse_cookie(header).get(self._cookie)  # as Flask parses it
        interface = self.server.session_interface
        if not value or not isinstance(interface, CachedCookieSessionInterface):
            return False
        data = interface.load(self.server, value)
        auth = app_auth(self.server)  # the same check as Flask's: the user exists, the session is open
        return data is not None and auth is not None and session_user(auth, data) is not None
