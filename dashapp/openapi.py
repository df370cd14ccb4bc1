"""OpenAPI 3 description of every /api route, written as data and served at `GET /api/openapi.json`.

Hand-written rather than generated: the routes are plain Flask views validating by hand, so a
generator (flask-smorest, apispec) would need schemas and decorators on every view, more code than
this document; tests/test_openapi.py keeps it equal to the app's url_map in both directions.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify

from dashapp.store.search_query import QUERY_FIELDS

JSON = "application/json"
Op = dict[str, Any]


def _ok(description: str, media: str = JSON) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    code: str = "200",
    params: list[Any] | None = None,
    body: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    tag: str = "alerts",
) -> Op:
    responses = {
        code: ok,
        "401": _err("not authenticated"),
        **{c: _err(d) for c, d in (errors or {}).items()},
    }
    op: Op = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return op


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in names]


IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": 'the version the caller saw, e.g. "3" (the ETag); or `version` in the body',
}
WRITE_ERRORS = {
    "400": "malformed body, version or note",
    "403": "refused (role, or a session without X-CSRF-Token)",
    "404": "no such alert",
    "409": "version conflict (answer carries current_version and the alert) or the status forbids the action",
    "413": "body too large",
    "415": "body is not application/json",
    "428": "no version given",
}
VERSIONED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "version": {"type": "integer", "minimum": 1},
        "note": {"type": "string", "maxLength": 1000},
    },
}
ALERT = _path("alert_id", "the alert's id")
RULE_VERSION = _path("n", "a rule-set version number")
LIST = _path("name", "the list's name")
ADMIN = {"403": "admins only (or a session write without X-CSRF-Token)"}


def _alert_action(summary: str, extra: dict[str, Any] | None = None, required: list[str] | None = None) -> Op:
    schema = {**VERSIONED, "properties": {**VERSIONED["properties"], **(extra or {})}}
    if required:
        schema["required"] = required
    return _op(
        summary,
        _ok("the alert after the action (ETag: its version)"),
        params=[ALERT, IF_MATCH],
        body=schema,
        errors=WRITE_ERRORS,
    )


PATHS: dict[str, dict[str, Op]] = {
    "/api/openapi.json": {"get": _op("this document", _ok("OpenAPI 3 document"), tag="meta")},
    "/api/alerts": {
        "get": _op(
            "search alerts",
            _ok("alerts, count, total, exact"),
            params=_query(*QUERY_FIELDS),
            errors={"400": "bad filter"},
        )
    },
    "/api/alerts.csv": {
        "get": _op(
            "export matching alerts",
            _ok("CSV rows", "text/csv"),
            params=_query(*QUERY_FIELDS),
            errors={"400": "bad filter"},
        )
    },
    "/api/alerts/retention": {"get": _op("the retention sweep's report", _ok("days, cutoff, swept, kept"))},
    "/api/alerts/{alert_id}/ack": {"post": _alert_action("acknowledge a new alert")},
    "/api/alerts/{alert_id}/assign": {
        "post": _alert_action(
            "assign an open alert to the caller", {"assignee": {"type": "string"}}, ["assignee"]
        )
    },
    "/api/alerts/{alert_id}/resolve": {
        "post": _alert_action(
            "resolve an open alert",
            {"disposition": {"type": "string", "enum": ["fraud", "false_positive"]}},
            ["disposition"],
        )
    },
    "/api/stats": {"get": _op("live totals and rates", _ok("the dashboard's KPIs"))},
    "/api/tick": {
        "get": _op(
            "the live page's poll (changes since its cursors)",
            _ok("changed properties"),
            params=_query("since", "window", "paused", "view"),
            errors={"400": "malformed poll", "503": "Redis unreachable"},
            tag="live",
        )
    },
    "/api/users/{name}/sessions": {
        "delete": _op(
            "log a user out everywhere (themself, or anyone for an admin)",
            _ok("user, sessions_closed"),
            params=[_path("name", "user name")],
            errors={"403": "not yours", "404": "no such user"},
            tag="auth",
        )
    },
    "/api/tokens": {
        "get": _op("list API tokens (never the secret)", _ok("tokens"), errors=ADMIN, tag="auth"),
        "post": _op(
            "create an API token for a user: the secret is in this answer only",
            _ok("token"),
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
        "delete": _op(
            "revoke an API token",
            _ok("revoked"),
            tag="auth",
            params=[_path("token_id", "tok_...")],
            errors={**ADMIN, "404": "no such token"},
        )
    },
    "/api/rules": {
        "get": _op(
            "the live rule document (JSON or YAML; ETag: its version)",
            _ok("rule document"),
            params=_query("format"),
            tag="rules",
        ),
        "put": _op(
            "publish a rule document (admins)",
            _ok("version, changed, updated_by"),
            tag="rules",
            params=[*_query("comment", "expected_version"), IF_MATCH],
            body={"type": "object"},
            errors={**ADMIN, "400": "invalid document (with path)", "409": "version conflict"},
        ),
    },
    "/api/rules/versions": {
        "get": _op(
            "published rule-set versions, newest first",
            _ok("versions"),
            params=_query("limit", "before"),
            tag="rules",
        )
    },
    "/api/rules/versions/{n}": {
        "get": _op(
            "one rule-set version",
            _ok("version record"),
            params=[RULE_VERSION, *_query("format")],
            tag="rules",
            errors={"404": "no such version"},
        )
    },
    "/api/rules/versions/{n}/restore": {
        "post": _op(
            "publish an old version again (admins)",
            _ok("version, restored_from"),
            tag="rules",
            params=[RULE_VERSION, IF_MATCH],
            errors={**ADMIN, "404": "no such version", "409": "version conflict"},
        )
    },
    "/api/rules/diff": {
        "get": _op(
            "rule-by-rule changes between two versions",
            _ok("changes"),
            params=_query("from", "to"),
            tag="rules",
            errors={"400": "give from and to"},
        )
    },
    "/api/lists": {"get": _op("named lists with sizes and versions", _ok("lists"), tag="lists")},
    "/api/lists/{name}": {
        "get": _op(
            "a list's entries (JSON or CSV)",
            _ok("entries"),
            params=[LIST, *_query("format")],
            tag="lists",
            errors={"404": "no such list"},
        ),
        "put": _op(
            "replace a list (admins; JSON or text/csv)",
            _ok("name, count, version"),
            tag="lists",
            params=[LIST, IF_MATCH, *_query("comment")],
            errors={**ADMIN, "400": "bad entries", "413": "list too large"},
        ),
        "delete": _op(
            "delete a list (admins)",
            _ok("deleted"),
            params=[LIST],
            tag="lists",
            errors={**ADMIN, "404": "no such list", "409": "in use by a rule"},
        ),
    },
    "/api/lists/{name}/audit": {
        "get": _op("a list's change records", _ok("audit"), params=[LIST], tag="lists")
    },
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
