"""JSON API (`/api/alerts`, `/api/stats`) and the public liveness probe `/healthz`."""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, Response, jsonify, request

from dashapp.store import STATUSES, DashboardReader

logger = logging.getLogger(__name__)
MAX_LIMIT = 1000


def _bad(message: str) -> Response:
    resp = jsonify(error=message)
    resp.status_code = 400
    return resp


def parse_alert_query(args: dict[str, str]) -> tuple[int, str | None] | str:
    """Return (limit, status) or an error message; limit 1..1000 (default 100), status known or absent."""
    raw_limit = args.get("limit", "100")
    if not raw_limit.isdigit() or len(raw_limit) > 4 or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return f"limit must be an integer from 1 to {MAX_LIMIT}"
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}"
    return int(raw_limit), status


def install_api(server: Flask, reader: DashboardReader, client: redis.Redis) -> None:
    """Register the API routes (the access guard has already authenticated /api/*)."""

    def alerts() -> Response:
        parsed = parse_alert_query(request.args.to_dict())
        if isinstance(parsed, str):
            return _bad(parsed)
        limit, status = parsed
        rows = reader.alert_rows(limit, status)
        return jsonify(alerts=[r.to_dict() for r in rows], count=len(rows))

    def stats() -> Response:
        return jsonify(reader.stats(int(time.time() * 1000)))

    def healthz() -> Response:
        try:
            ok = bool(client.ping())
        except redis.RedisError:
            ok = False
        resp = jsonify(status="ok", redis=ok)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    server.add_url_rule("/api/alerts", "api_alerts", alerts, methods=["GET"])
    server.add_url_rule("/api/stats", "api_stats", stats, methods=["GET"])
    server.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
