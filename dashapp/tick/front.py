"""The tick's WSGI seam: a signed-in `GET /api/tick` answered before Flask's per-request work.

Under gunicorn a Flask request costs about as much CPU as gunicorn itself; with hundreds of tabs
polling once a second that is most of the dashboard's load. This seam, wrapped around the Flask app
by dashapp.tick.install_tick, answers only the plain case: a GET of the tick path carrying a valid
session cookie of an existing user whose session is still open, checked by the same functions the
access guard uses (CachedCookieSessionInterface.load, dashapp.auth.core.session_user), and a
well-formed query. The answer is the one the Flask route gives (the same runner and headers).
Everything else, every refusal and every error included, goes to Flask unchanged, so the guard,
the 400s and the 401s keep one implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.http import parse_cookie

from dashapp.auth.core import app_auth, session_user
from dashapp.auth.session_cache import CachedCookieSessionInterface
from dashapp.security import SECURITY_HEADERS
from dashapp.tick.query import TICK_PATH, BadTick, TickQuery, parse_tick_query
from dashapp.tick.route import TickRunner, tick_headers

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_STATUS = {200: "200 OK", 204: "204 No Content", 503: "503 Service Unavailable"}


class TickFront:
    """Wraps a Flask app's WSGI callable; see the module docstring for what it answers itself."""

    def __init__(self, server: Flask, runner: TickRunner) -> None:
        self.server, self.runner = server, runner
        self.inner: WsgiApp = server.wsgi_app
        self._cookie = str(server.config.get("SESSION_COOKIE_NAME") or "session")
        self.answered = 0  # polls answered here (not by Flask); approximate under threads

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != TICK_PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.inner(environ, start_response)
        query = self._answerable(environ)
        if query is None:
            return self.inner(environ, start_response)
        status, body = self.runner(query)
        start_response(_STATUS[status], [*tick_headers(status, body), *SECURITY_HEADERS])
        self.answered += 1
        return [body]

    def _answerable(self, environ: dict[str, Any]) -> TickQuery | None:
        """The poll of a signed-in, well-formed request; None: let Flask decide."""
        if not self._signed_in(environ):
            return None
        try:  # WSGI gives the raw query bytes as a latin-1 string (PEP 3333)
            return parse_tick_query(str(environ.get("QUERY_STRING") or "").encode("latin-1"))
        except (BadTick, UnicodeEncodeError):
            return None

    def _signed_in(self, environ: dict[str, Any]) -> bool:
        header = environ.get("HTTP_COOKIE")
        if not header:
            return False
        value = parse_cookie(header).get(self._cookie)  # as Flask parses it
        interface = self.server.session_interface
        if not value or not isinstance(interface, CachedCookieSessionInterface):
            return False
        data = interface.load(self.server, value)
        auth = app_auth(self.server)  # the same check as the guard's: the user exists, the session is open
        return data is not None and auth is not None and session_user(auth, data) is not None
