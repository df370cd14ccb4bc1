"""Prometheus `/metrics` of the dashboard: requests by route template and status, latency, sessions.

Under gunicorn every worker counts into prometheus_client's multiprocess files (the directory
PROMETHEUS_MULTIPROC_DIR, which dashapp/gunicorn.conf.py prepares before any worker imports the
library) and a scrape of any worker sums them all. Without that variable (tests, `python -m dashapp
serve`) one process counts in its own registry. Readable with the scrape secret DASH_METRICS_TOKEN
as a Bearer token (Prometheus' `authorization.credentials_file`), or in an admin's browser session.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import redis
from flask import Flask, Response, jsonify, request, request_started
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from common.keys import RedisKeys
from dashapp.auth.core import app_auth, current_role
from dashapp.auth.guard import METRICS_PATH
from dashapp.model_metrics import ModelChecksCollector
from dashapp.security import CATCH_ALL_RULE

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable (read at its import)
ROUTE_KEY = "dashapp.route"  # the matched URL rule, put in the WSGI environ by the request hook
UNMATCHED = "<unmatched>"  # every path no rule knows shares one label: no label per made-up URL
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# dashboard answers: the tick in ~1 ms, callbacks in tens of ms, a CSV export in seconds
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HttpMetrics:
    """The request counter and latency histogram (in multiprocess files when gunicorn set that up)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()  # exposition reads the files instead in multiprocess mode
        self.requests = Counter(
            "dashapp_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dashapp_http_request_duration_seconds",
            "Time from the request reaching the app to its answer's headers, by route template",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: str, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, status).inc()
        self.latency.labels(route, method).observe(seconds)


class SessionsCollector(Collector):
    """`dashapp_sessions_active`: open login sessions of the users in the users file, read at scrape."""

    def __init__(self, server: Flask, redis_client: redis.Redis, keys: RedisKeys) -> None:
        self._server, self._r, self._keys = server, redis_client, keys

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("dashapp_sessions_active", "Open dashboard login sessions, by role",
                                   labels=["role"])  # fmt: skip
        auth = app_auth(self._server)
        users = auth.users.all() if auth is not None else []
        now = int(time.time())
        try:
            pipe = self._r.pipeline(transaction=False)
            for user in users:
                pipe.zcount(self._keys.user_sessions(user.name), now, "+inf")
            counts = pipe.execute()
        except redis.RedisError as exc:  # a scrape without the gauge beats a failed scrape
            logger.warning("dashapp.metrics: cannot count sessions error=%s", exc)
            return
        by_role: dict[str, int] = {}
        for user, count in zip(users, counts, strict=True):
            by_role[user.role] = by_role.get(user.role, 0) + int(count)
        for role, count in sorted(by_role.items()):
            family.add_metric([role], count)
        yield family


class MetricsMiddleware:
    """Times every answer, including the ones the tick front gives without Flask."""

    def __init__(
        self, inner: WsgiApp, metrics: HttpMetrics, static_rules: Callable[[], frozenset[str]]
    ) -> None:
        self.inner, self.metrics, self._static_rules = inner, metrics, static_rules

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start = time.perf_counter()
        counted = [False]

        def count(status: str) -> None:
            if not counted[0]:
                counted[0] = True
                self.metrics.observe(self._route(environ), str(environ.get("REQUEST_METHOD", "")),
                                     status, time.perf_counter() - start)  # fmt: skip

        def record_status(line: str, headers: Any, exc_info: Any = None) -> Any:
            # counted when the headers go out: a streamed body (the CSV export) is timed to its
            # first byte, and a client that never reads the body is counted all the same
            count(line[:3])
            return start_response(line, headers, exc_info) if exc_info else start_response(line, headers)

        try:
            return self.inner(environ, record_status)
        finally:
            count("500")  # the app raised before answering (Flask and the tick front answer eagerly)

    def __getattr__(self, name: str) -> Any:
        """Anything else is the wrapped app's (e.g. the tick front's `answered` count)."""
        return getattr(self.inner, name)

    def _route(self, environ: dict[str, Any]) -> str:
        route = environ.get(ROUTE_KEY)
        if isinstance(route, str):
            return route
        path = str(environ.get("PATH_INFO", ""))  # answered before Flask routed it (the tick front)
        return path if path in self._static_rules() else UNMATCHED


def scrape_allowed(header: str | None, secret: str) -> bool:
    """`Authorization: Bearer <secret>` with the configured scrape secret (compared in constant time)."""
    scheme, _, sent = (header or "").strip().partition(" ")
    if not secret or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(sent.strip().encode("utf-8", "replace"), secret.encode("utf-8", "replace"))


def install_http_metrics(
    server: Flask, redis_client: redis.Redis, keys: RedisKeys, scrape_token: str
) -> HttpMetrics:
    """Count every request and serve `GET /metrics`; call after every other WSGI wrapper is in place."""
    metrics = HttpMetrics()
    multiprocess = bool(os.environ.get(MULTIPROC_ENV))  # set by gunicorn.conf.py, read by the library
    sessions = SessionsCollector(server, redis_client, keys)
    models = ModelChecksCollector(redis_client, keys)
    rules: list[frozenset[str]] = []

    def static_rules() -> frozenset[str]:
        if not rules:  # computed on first use: every route is registered by then
            rules.append(frozenset(r.rule for r in server.url_map.iter_rules() if "<" not in r.rule))
        return rules[0]

    def note_route(sender: Flask, **_: Any) -> None:
        rule = request.url_rule  # Dash's catch-all rule only ever answers 404 (dashapp.security)
        known = rule is not None and rule.rule != CATCH_ALL_RULE
        request.environ[ROUTE_KEY] = rule.rule if known and rule is not None else UNMATCHED

    def scrape() -> Response:
        admin = current_role() == "admin"  # an admin's browser session (the guard let /metrics through)
        if not admin and not scrape_allowed(request.headers.get("Authorization"), scrape_token):
            resp = jsonify(error="metrics need the scrape token (Bearer) or an admin session")
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return resp
        registry = CollectorRegistry()
        if multiprocess:
            MultiProcessCollector(registry)
        else:
            registry.register(_Forward(metrics.registry))
        registry.register(sessions)
        registry.register(models)
        resp = Response(generate_latest(registry), mimetype=None)
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        resp.headers["Cache-Control"] = "no-store"
        return resp

    request_started.connect(note_route, server, weak=False)
    server.add_url_rule(METRICS_PATH, "metrics", scrape, methods=["GET"])
    server.wsgi_app = MetricsMiddleware(server.wsgi_app, metrics, static_rules)  # type: ignore[method-assign]
    logger.info("dashapp.metrics: %s at %s", "multiprocess" if multiprocess else "one process", METRICS_PATH)
    return metrics


class _Forward(Collector):
    """The process registry's metrics, collected into the scrape's registry beside the sessions gauge."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Any]:
        yield from self._source.collect()
