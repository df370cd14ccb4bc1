"""Admin API for webhooks: endpoints (`/api/webhooks`, the secret shown once) and the delivery log."""

from __future__ import annotations

import logging

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
                "properties": {
                    "name": {"type": "string"},
                    "url": {"type": "string"},
                    "format": {"type": "string", "enum": ["json", "slack"]},
                    "min_severity": {"type": "string", "enum": ["low", "medium", "high"]},
                    "rules": {"type": "array", "items": {"type": "string"}},
                    "events": {
                        "type": "array",
                        "items": {"type": "string", "enum": ["alert.raised", "alert.resolved"]},
                    },
                },
            },
        ),
    },
    "/api/webhooks/{endpoint_id}": {
        "patch": op(
            "enable or disable an endpoint",
            ok("endpoint"),
            params=ENDPOINT,
            tag="webhooks",
            errors={**ADMIN, "400": "enabled must be true or false", "404": "no such endpoint"},
            body={"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}}},
        ),
        "delete": op(
            "delete an endpoint",
            ok("deleted"),
            params=ENDPOINT,
            tag="webhooks",
            errors={**ADMIN, "404": "no such endpoint"},
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
        enabled = json_body().get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "enabled must be true or false")
        endpoint = store.set_enabled(endpoint_id, enabled)
        if endpoint is None:
            raise ApiError(404, "no such endpoint")
        logger.info("dashapp.api: webhook id=%s enabled=%s by=%s", endpoint_id, enabled, admin)
        return jsonify(endpoint.public())

    def delete(endpoint_id: str) -> Response:
        admin = _admin()
        check_session_intent()
        if not store.delete(endpoint_id):
            raise ApiError(404, "no such endpoint")
        logger.info("dashapp.api: webhook deleted id=%s by=%s", endpoint_id, admin)
        return jsonify(deleted=endpoint_id)

    def deliveries() -> Response:
        _admin()
        raw = request.args.get("limit", "100")
        if not raw.isdigit() or not 1 <= int(raw) <= LOG_MAX:
            raise ApiError(400, f"limit must be 1..{LOG_MAX}")
        n = int(raw)
        return jsonify(deliveries=log.recent(n), dead=[_no_body(d) for d in log.dead(n)], stats=log.stats())

    server.add_url_rule("/api/webhooks", "api_webhooks", lambda: guarded(listing), methods=["GET"])
    server.add_url_rule("/api/webhooks", "api_webhooks_create", lambda: guarded(create), methods=["POST"])
    server.add_url_rule(
        "/api/webhooks/deliveries", "api_webhooks_deliveries", lambda: guarded(deliveries), methods=["GET"]
    )
    server.add_url_rule(
        "/api/webhooks/<endpoint_id>",
        "api_webhooks_change",
        lambda endpoint_id: guarded(lambda: change(endpoint_id)),
        methods=["PATCH"],
    )
    server.add_url_rule(
        "/api/webhooks/<endpoint_id>",
        "api_webhooks_delete",
        lambda endpoint_id: guarded(lambda: delete(endpoint_id)),
        methods=["DELETE"],
    )


def _no_body(letter: dict[str, object]) -> dict[str, object]:
    """A dead letter without its body (alert data stays in Redis for a replay by hand)."""
    return {k: v for k, v in letter.items() if k != "body"}
