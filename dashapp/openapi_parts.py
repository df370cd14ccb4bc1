"""Builders of OpenAPI 3 operations and parameters, shared by the paths in dashapp/openapi.py."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
Op = dict[str, Any]


def ok(description: str, media: str = JSON) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "object"}}}}


def err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def op(
    summary: str,
    answer: dict[str, Any],
    *,
    code: str = "200",
    params: list[Any] | None = None,
    body: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    tag: str = "alerts",
) -> Op:
    responses = {
        code: answer,
        "401": err("not authenticated"),
        **{c: err(d) for c, d in (errors or {}).items()},
    }
    out: Op = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        out["parameters"] = params
    if body:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return out


def path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def query(*names: str) -> list[dict[str, Any]]:
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
ALERT = path("alert_id", "the alert's id")
RULE_VERSION = path("n", "a rule-set version number")
LIST = path("name", "the list's name")
ADMIN = {"403": "admins only (or a session write without X-CSRF-Token)"}


def alert_action(summary: str, extra: dict[str, Any] | None = None, required: list[str] | None = None) -> Op:
    schema = {**VERSIONED, "properties": {**VERSIONED["properties"], **(extra or {})}}
    if required:
        schema["required"] = required
    return op(
        summary,
        ok("the alert after the action (ETag: its version)"),
        params=[ALERT, IF_MATCH],
        body=schema,
        errors=WRITE_ERRORS,
    )


BACKTEST = path("run_id", "a backtest run's id")
BACKTEST_PATHS: dict[str, dict[str, Op]] = {
    "/api/backtests": {
        "get": op("the backtest runs kept (the newest 20), newest first", ok("runs"), tag="backtests"),
        "post": op(
            "queue a backtest of a draft rule set against the live one (admins); body {draft, from, to, "
            "model} or the draft document itself (JSON or YAML, range and model in the query); `model`: "
            "the registered version whose scores `model_score` reads (default: the champion)",
            ok("id, status (Location: the run)"),
            code="202",
            params=query("from", "to", "model"),
            body={"type": "object"},
            tag="backtests",
            errors={**ADMIN, "400": "invalid draft (with path), range or model version"},
        ),
    },
    "/api/backtests/{run_id}": {
        "get": op(
            "a run: status, progress (done, total, rate, eta_s; phase model while the model reads "
            "the range), error, and its result when done",
            ok("run, result"),
            params=[BACKTEST, *query("draft")],
            tag="backtests",
            errors={"404": "no such run"},
        ),
        "delete": op(
            "delete a run and its result (admins)",
            ok("deleted"),
            params=[BACKTEST],
            tag="backtests",
            errors={**ADMIN, "404": "no such run"},
        ),
    },
    "/api/backtests/{run_id}/cancel": {
        "post": op(
            "cancel a queued or running run (admins); a running one stops within a second",
            ok("status"),
            params=[BACKTEST],
            tag="backtests",
            errors={**ADMIN, "404": "no such run"},
        )
    },
    "/api/backtests/{run_id}/export": {
        "get": op(
            "a finished run's result: per-rule CSV or the whole JSON",
            ok("the export", "text/csv"),
            params=[BACKTEST, *query("format")],
            tag="backtests",
            errors={"404": "no such run", "409": "no result yet"},
        )
    },
}

ENTRY = path("value", "one value of the list (URL-encoded; may hold a slash)")
RULES_LISTS_MORE: dict[str, dict[str, Op]] = {
    "/api/rules/quality": {
        "get": op(
            "per live rule, over 24 h and 7 d: alerts raised, resolved as fraud / false positive (by "
            "resolution time), still open, and precision = fraud / (fraud + false positive) with its n",
            ok("now_ms, windows, rules: [{rule, name, enabled, builtin, windows}]"),
            tag="rules",
        )
    },
    "/api/lists/{name}/entries/{value}": {
        "get": op(
            "one entry (value, expires_at, note, by, at, member now)",
            ok("the entry"),
            params=[LIST, ENTRY],
            tag="lists",
            errors={"404": "no such list or value"},
        ),
        "put": op(
            "add or update one entry of an existing list (admins); optional JSON {expires_at, note, comment}",
            ok("name, value, count, version"),
            params=[LIST, ENTRY],
            tag="lists",
            errors={**ADMIN, "400": "bad value, expiry or note", "404": "no such list", "413": "list full"},
        ),
        "delete": op(
            "remove one entry (admins)",
            ok("name, removed, count, version"),
            params=[LIST, ENTRY, *query("comment")],
            tag="lists",
            errors={**ADMIN, "404": "no such list or value"},
        ),
    },
}
