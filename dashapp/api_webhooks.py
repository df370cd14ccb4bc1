"""Admin API for webhooks: endpoints (`/api/webhooks`, the secret shown once) and the delivery log."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from flask import Flask, Response, jsonify, request

from common.webhook_log import DeliveryLog
from common.webhooks import EndpointError, EndpointStore
from dashapp.api_actions import json_body, refusal
from dashapp.api_common import ApiError, check_session_intent
from dashapp.auth.core import current_name, current_role
from dashapp.openapi_parts import ADMIN, Op, ok, op, path, query

logger = logging.getLogger(__name__)
LOG_MAX = 1000  # rows one answer holds at most
ENDPOINT = [path("endpoint_id", "wh_...")]
ENDPOINT_FIELDS = {
    "name": {"type": "string"},
    "url": {"type": "string"},
    "format": {"type": "string", "enum": ["json", "slack"]},
    "min_severity": {"type": "string", "enum": ["low", "medium", "high"]},
    "rules": {"type": "array", "items": {"type": "string"}},
    "events": {"type": "array", "items": {"type": "string", "enum": ["alert.raised", "alert.resolved"]}},
}
WEBHOOK_PATHS: dict[str, dict[str, Op]] = {
    "/api/webhooks": {
        "get": op(
            "webhook endpoints (never a secret), the file's too",
            ok("endpoints, file_endpoints"),
            errors=ADMIN,
            tag="webhooks",
        ),
        "post": op(
            "add a webhook endpoint: its signing secret is in this answer only",
            ok("endpoint with secret"),
            code="201",
            tag="webhooks",
            errors={**ADMIN, "400": "invalid endpoint"},
            body={
                "type": "object",
                "required": ["url"],
                "properties": ENDPOINT_FIELDS,
            },
        ),
    },
    "/api/webhooks/{endpoint_id}": {
        "patch": op(
            "change an endpoint in place (its id kept); rotate_secret: a new secret, in this answer only",
            ok("endpoint (with secret when rotated)"),
            params=ENDPOINT,
            tag="webhooks",
            errors={**ADMIN, "400": "invalid change", "404": "no such endpoint"},
            body={
                "type": "object",
                "properties": {
                    **ENDPOINT_FIELDS,
                    "enabled": {"type": "boolean"},
                    "rotate_secret": {"type": "boolean"},
                },
            },
        ),
        "delete": op(
            "delete an endpoint",
            ok("deleted"),
            params=ENDPOINT,
            tag="webhooks",
            errors={**ADMIN, "404": "no such endpoint"},
        ),
    },
    "/api/webhooks/dead/replay": {
        "post": op(
            "queue the dead letters (of one endpoint, or all) for delivery again",
            ok("queued, kept (letters without their event, left for a replay by hand)"),
            tag="webhooks",
            errors={**ADMIN, "400": "endpoint_id must be text"},
            body={"type": "object", "properties": {"endpoint_id": {"type": "string"}}},
        ),
    },
    "/api/webhooks/deliveries": {
        "get": op(
            "the delivery log, dead letters and counters, newest first",
            ok("deliveries, dead, stats"),
            params=query("limit"),
            errors={**ADMIN, "400": "bad limit"},
            tag="webhooks",
        ),
    },
}


def _admin() -> str:
    name = current_name()
    if current_role() != "admin":
        logger.warning("dashapp.api: webhook request refused for non-admin user=%s", name)
        raise ApiError(403, "only admins manage webhooks")
    return name


def install_webhooks_api(server: Flask, store: EndpointStore, log: DeliveryLog) -> None:
    """Register the routes (the access guard has authenticated /api/*; each route requires an admin)."""

    def guarded(view: object) -> Response:
        try:
            return view()  # type: ignore[operator]
        except ApiError as exc:
            return refusal(exc.status, str(exc), **exc.extra)
        except EndpointError as exc:
            return refusal(400, str(exc))
        except redis.RedisError as exc:
            logger.warning("dashapp.api: webhook store unreachable error=%s", exc)
            return refusal(503, "cannot reach the webhook store now; try again")

    def listing() -> Response:
        _admin()
        return jsonify(endpoints=[e.public() for e in store.all()], file_endpoints=store.file_endpoints())

    def create() -> Response:
        admin = _admin()
        check_session_intent()
        endpoint = store.create(json_body(), admin)
        logger.info("dashapp.api: webhook created id=%s by=%s", endpoint.id, admin)
        resp = jsonify(**endpoint.public(), secret=endpoint.secret, shown_once=True)
        resp.status_code = 201
        return resp

    def change(endpoint_id: str) -> Response:
        admin = _admin()
        check_session_intent()
        return _change(store, endpoint_id, admin)

    def delete(endpoint_id: str) -> Response:
        admin = _admin()
        check_session_intent()
        if not store.delete(endpoint_id):
            raise ApiError(404, "no such endpoint")
        logger.info("dashapp.api: webhook deleted id=%s by=%s", endpoint_id, admin)
        return jsonify(deleted=endpoint_id)

    def replay() -> Response:
        admin = _admin()
        check_session_intent()
        endpoint_id = json_body().get("endpoint_id")
        if endpoint_id is not None and not isinstance(endpoint_id, str):
            raise ApiError(400, "endpoint_id must be text")
        queued, kept = log.queue_replay(endpoint_id or None)
        logger.info(
            "dashapp.api: webhook dead letters queued again count=%d kept=%d endpoint=%s by=%s",
            queued,
            kept,
            endpoint_id or "*",
            admin,
        )
        return jsonify(queued=queued, kept=kept)

    def deliveries() -> Response:
        _admin()
        raw = request.args.get("limit", "100")
        if not raw.isdigit() or not 1 <= int(raw) <= LOG_MAX:
            raise ApiError(400, f"limit must be 1..{LOG_MAX}")
        n = int(raw)
        return jsonify(deliveries=log.recent(n), dead=[_no_body(d) for d in log.dead(n)], stats=log.stats())

    def one(view: Callable[[str], Response]) -> Callable[[str], Response]:
        return lambda endpoint_id: guarded(lambda: view(endpoint_id))

    routes: list[tuple[str, str, Callable[..., Response], str]] = [
        ("/api/webhooks", "api_webhooks", lambda: guarded(listing), "GET"),
        ("/api/webhooks", "api_webhooks_create", lambda: guarded(create), "POST"),
        ("/api/webhooks/deliveries", "api_webhooks_deliveries", lambda: guarded(deliveries), "GET"),
        ("/api/webhooks/dead/replay", "api_webhooks_replay", lambda: guarded(replay), "POST"),
        ("/api/webhooks/<endpoint_id>", "api_webhooks_change", one(change), "PATCH"),
        ("/api/webhooks/<endpoint_id>", "api_webhooks_delete", one(delete), "DELETE"),
    ]
    for rule, name, view, method in routes:
        server.add_url_rule(rule, name, view, methods=[method])


def _change(store: EndpointStore, endpoint_id: str, admin: str) -> Response:
    """PATCH: the fields given, validated as a whole; a rotated secret is in this answer only."""
    changes = json_body()
    rotate = changes.pop("rotate_secret", False)
    if not isinstance(rotate, bool):
        raise ApiError(400, "rotate_secret must be true or false")
    if not changes and not rotate:
        raise ApiError(400, "nothing to change")
    endpoint = store.update(endpoint_id, changes, rotate_secret=rotate)
    if endpoint is None:
        raise ApiError(404, "no such endpoint")
    # names only: a URL can itself be a secret (Slack's are)
    logger.info(
        "dashapp.api: webhook changed id=%s fields=%s rotated=%s by=%s",
        endpoint_id,
        sorted(changes),
        rotate,
        admin,
    )
    if rotate:
        return jsonify(**endpoint.public(), secret=endpoint.secret, shown_once=True)
    return jsonify(endpoint.public())


def _no_body(letter: dict[str, object]) -> dict[str, object]:
    """A dead letter without its body and event (the alert data stays in Redis, for a replay)."""
    return {k: v for k, v in letter.items() if k not in ("body", "event")}
