"""`GET /api/tick` in Flask, and the runner that answers a parsed poll (shared with the WSGI seam)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from flask import Flask, Response, jsonify, request

from dashapp.store import DashboardReader
from dashapp.tick.answer import FragmentCache, answer_body
from dashapp.tick.build import TickConfig, run_tick
from dashapp.tick.frames import FrameMemo
from dashapp.tick.query import TICK_PATH, BadTick, TickQuery, parse_tick_query

logger = logging.getLogger(__name__)
UNAVAILABLE = b'{"error":"live data unavailable"}'
# a poll's answer differs per session and per moment: never cached, by the browser or on the way
TICK_HEADERS = (("Cache-Control", "no-store"), ("Vary", "Cookie"))


def tick_headers(status: int, body: bytes) -> list[tuple[str, str]]:
    """The headers of a tick answer, whichever side (Flask or the WSGI seam) sends it."""
    length = [] if status == 204 else [("Content-Length", str(len(body)))]  # none on a 204 (RFC 9110)
    return [("Content-Type", "application/json"), *length, *TICK_HEADERS]


class TickRunner:
    """Answers parsed polls: (status, body). One per process, like the memo and cache it holds.

    200: the page properties that changed (dashapp.tick.answer); 204: nothing changed; 503: Redis
    cannot be read (the page keeps what it shows and its freshness badge turns red on its own).
    """

    def __init__(
        self, reader: DashboardReader, cfg: TickConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self.reader, self.cfg, self.clock = reader, cfg, clock
        # every tab polling this worker shares the reads and values of one frame
        self.memo = FrameMemo(cfg.frame_ms, cfg.slow_refresh_ms)
        self.fragments = FragmentCache()

    def __call__(self, query: TickQuery) -> tuple[int, bytes]:
        now_ms = int(self.clock() * 1000)
        try:
            result = run_tick(
                self.reader,
                self.cfg,
                query.view,
                query.since,
                now_ms=now_ms,
                view_changed=query.view_changed,
                memo=self.memo,
            )
        except redis.RedisError as exc:
            logger.warning("dashapp.tick: redis unavailable error=%s", exc)
            return 503, UNAVAILABLE
        if result is None:
            return 204, b""
        return 200, answer_body(result, self.fragments)


def install_tick_route(server: Flask, runner: TickRunner) -> None:
    """Register `GET /api/tick`; the access guard (dashapp.auth.guard) has already checked the login."""

    def tick() -> Response:
        try:
            query = parse_tick_query(request.query_string)
        except BadTick as exc:
            resp = jsonify(error=str(exc))
            resp.status_code = 400
            return resp
        status, body = runner(query)
        resp = Response(body, status=status)
        for name, value in tick_headers(status, body):
            resp.headers[name] = value
        return resp

    server.add_url_rule(TICK_PATH, "api_tick", tick, methods=["GET"])
