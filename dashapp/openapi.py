"""OpenAPI 3 description of every /api route, written as data and served at `GET /api/openapi.json`.

Hand-written rather than generated: the routes are plain Flask views validating by hand, so a
generator (flask-smorest, apispec) would need schemas and decorators on every view, more code than
this document; tests/test_openapi.py keeps it equal to the app's url_map in both directions.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify

from dashapp.api_models import MODELS_PATHS
from dashapp.api_shadow import SHADOW_PATHS
from dashapp.api_webhooks import WEBHOOK_PATHS
from dashapp.openapi_parts import (
    ADMIN,
    BACKTEST_PATHS,
    IF_MATCH,
    LIST,
    RULE_VERSION,
    RULES_LISTS_MORE,
    Op,
    alert_action,
    ok,
    op,
    path,
    query,
)
from dashapp.store.search_query import QUERY_FIELDS

PATHS: dict[str, dict[str, Op]] = {
    "/api/openapi.json": {"get": op("this document", ok("OpenAPI 3 document"), tag="meta")},
    "/api/alerts": {
        "get": op(
            "search alerts",
            ok("alerts, count, total, exact"),
            params=query(*QUERY_FIELDS),
            errors={"400": "bad filter"},
        )
    },
    "/api/alerts.csv": {
        "get": op(
            "export matching alerts",
            ok("CSV rows", "text/csv"),
            params=query(*QUERY_FIELDS),
            errors={"400": "bad filter"},
        )
    },
    "/api/alerts/retention": {"get": op("the retention sweep's report", ok("days, cutoff, swept, kept"))},
    "/api/alerts/{alert_id}/ack": {"post": alert_action("acknowledge a new alert")},
    "/api/alerts/{alert_id}/assign": {
        "post": alert_action(
            "assign an open alert to the caller", {"assignee": {"type": "string"}}, ["assignee"]
        )
    },
    "/api/alerts/{alert_id}/resolve": {
        "post": alert_action(
            "resolve an open alert",
            {"disposition": {"type": "string", "enum": ["fraud", "false_positive"]}},
            ["disposition"],
        )
    },
    "/api/stats": {"get": op("live totals and rates", ok("the dashboard's KPIs"))},
    "/api/tick": {
        "get": op(
            "the live page's poll (changes since its cursors)",
            ok("changed properties"),
            params=query("since", "window", "paused", "view"),
            errors={"400": "malformed poll", "503": "Redis unreachable"},
            tag="live",
        )
    },
    "/api/users/{name}/sessions": {
        "delete": op(
            "log a user out everywhere (themself, or anyone for an admin)",
            ok("user, sessions_closed"),
            params=[path("name", "user name")],
            errors={"403": "not yours", "404": "no such user"},
            tag="auth",
        )
    },
    "/api/tokens": {
        "get": op("list API tokens (never the secret)", ok("tokens"), errors=ADMIN, tag="auth"),
        "post": op(
            "create an API token for a user: the secret is in this answer only",
            ok("token"),
            code="201",
            tag="auth",
            errors={**ADMIN, "400": "bad name", "404": "no such user"},
            body={
                "type": "object",
                "required": ["user"],
                "properties": {"user": {"type": "string"}, "name": {"type": "string", "maxLength": 64}},
            },
        ),
    },
    "/api/tokens/{token_id}": {
        "delete": op(
            "revoke an API token",
            ok("revoked"),
            tag="auth",
            params=[path("token_id", "tok_...")],
            errors={**ADMIN, "404": "no such token"},
        )
    },
    "/api/rules": {
        "get": op(
            "the live rule document (JSON or YAML; ETag: its version)",
            ok("rule document"),
            params=query("format"),
            tag="rules",
        ),
        "put": op(
            "publish a rule document (admins)",
            ok("version, changed, updated_by"),
            tag="rules",
            params=[*query("comment", "expected_version"), IF_MATCH],
            body={"type": "object"},
            errors={**ADMIN, "400": "invalid document (with path)", "409": "version conflict"},
        ),
    },
    "/api/rules/versions": {
        "get": op(
            "published rule-set versions, newest first",
            ok("versions"),
            params=query("limit", "before"),
            tag="rules",
        )
    },
    "/api/rules/versions/{n}": {
        "get": op(
            "one rule-set version",
            ok("version record"),
            params=[RULE_VERSION, *query("format")],
            tag="rules",
            errors={"404": "no such version"},
        )
    },
    "/api/rules/versions/{n}/restore": {
        "post": op(
            "publish an old version again (admins)",
            ok("version, restored_from"),
            tag="rules",
            params=[RULE_VERSION, IF_MATCH],
            errors={**ADMIN, "404": "no such version", "409": "version conflict"},
        )
    },
    "/api/rules/diff": {
        "get": op(
            "rule-by-rule changes between two versions",
            ok("changes"),
            params=query("from", "to"),
            tag="rules",
            errors={"400": "give from and to"},
        )
    },
    "/api/lists": {"get": op("named lists with sizes and versions", ok("lists"), tag="lists")},
    "/api/lists/{name}": {
        "get": op(
            "a list's entries (JSON or CSV)",
            ok("entries"),
            params=[LIST, *query("format")],
            tag="lists",
            errors={"404": "no such list"},
        ),
        "put": op(
            "replace a list (admins; JSON or text/csv)",
            ok("name, count, version"),
            tag="lists",
            params=[LIST, IF_MATCH, *query("comment")],
            errors={**ADMIN, "400": "bad entries", "413": "list too large"},
        ),
        "delete": op(
            "delete a list (admins)",
            ok("deleted"),
            params=[LIST],
            tag="lists",
            errors={**ADMIN, "404": "no such list", "409": "in use by a rule"},
        ),
    },
    "/api/lists/{name}/audit": {
        "get": op("a list's change records", ok("audit"), params=[LIST], tag="lists")
    },
    **BACKTEST_PATHS,
    **RULES_LISTS_MORE,  # rule quality, single list entries
    **WEBHOOK_PATHS,  # dashapp/api_webhooks.py
    **SHADOW_PATHS,  # dashapp/api_shadow.py
    **MODELS_PATHS,  # dashapp/api_models.py
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Fraud dashboard API",
        "version": "1",
        "description": "Every /api route of the dashboard. Authenticate with `Authorization: Bearer <token>` "
        "(an API token from an admin), HTTP Basic, or a browser session (writes then need X-CSRF-Token). "
        "See docs/api.md.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}, {"basic": []}, {"session": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (fdt_...)"},
            "basic": {"type": "http", "scheme": "basic"},
            "session": {"type": "apiKey", "in": "cookie", "name": "fraud_session"},
        },
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
        },
    },
}


def install_openapi(server: Flask) -> None:
    """Register `GET /api/openapi.json` (behind the access guard like every /api route)."""

    def document() -> Response:
        return jsonify(DOCUMENT)

    server.add_url_rule("/api/openapi.json", "api_openapi", document, methods=["GET"])
