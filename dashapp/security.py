"""Request hygiene: body size limit, callback body shape check, error mapping, unknown paths, headers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from dash.exceptions import DashException
from flask import Flask, Response, jsonify, redirect, request
from werkzeug.exceptions import HTTPException, NotFound

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/_dash-update-component"
# sent on every response (dashapp.tick.front sends the same on the polls it answers itself)
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", "frame-ancestors 'none'; object-src 'none'"),
)
CATCH_ALL_RULE = "/<path:path>"  # Dash's multi-page route: every unknown path would get the page shell


def _error(status: int, message: str) -> Response:
    resp = jsonify(error=message)
    resp.status_code = status
    return resp


def _is_prop(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str | dict)
        and isinstance(item.get("property"), str)
    )


def _props_ok(items: Any, expected: int) -> bool:
    """A list of `expected` props, each a prop dict or (pattern-matching ALL) a list of them."""
    if not isinstance(items, list) or len(items) != expected:
        return False
    return all(_is_prop(i) or (isinstance(i, list) and all(_is_prop(j) for j in i)) for i in items)


def _outputs_ok(output: str, outputs: Any) -> bool:
    if output.startswith(".."):  # multi-output: one entry per "id.prop" in the output string
        return isinstance(outputs, list) and len(outputs) == len(output.strip(".").split("..."))
    return outputs is None or _is_prop(outputs) or isinstance(outputs, list)


def callback_body_problem(body: Any, callback_map: dict[str, Any]) -> str | None:
    """Return why a /_dash-update-component body cannot be dispatched, or None if it can."""
    if not isinstance(body, dict):
        return "expected a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "unknown output"
    spec = callback_map[output]
    if "callback" not in spec:  # a clientside callback (the live tick's among them): no server side
        return "not a server callback"
    changed = body.get("changedPropIds", [])
    checks = (
        (_props_ok(body.get("inputs"), len(spec.get("inputs", []))), "inputs do not match the callback"),
        (_props_ok(body.get("state", []), len(spec.get("state", []))), "state does not match the callback"),
        (
            isinstance(changed, list) and all(isinstance(c, str) for c in changed),
            "changedPropIds must be a list of strings",
        ),
        (_outputs_ok(output, body.get("outputs")), "outputs do not match the callback"),
    )
    return next((message for ok, message in checks if not ok), None)


def install_security(server: Flask, callback_map: Callable[[], dict[str, Any]], max_body: int) -> None:
    """Register the size check, callback validation, JSON error handlers and response headers."""
    server.config["MAX_CONTENT_LENGTH"] = max_body

    @server.before_request
    def _limits() -> Response | None:
        if request.url_rule is not None and request.url_rule.rule == CATCH_ALL_RULE:
            raise NotFound()  # a single-page app: no page shell for made-up paths
        if request.content_length is not None and request.content_length > max_body:
            return _error(413, "request body too large")
        if request.path == CALLBACK_PATH and request.method == "POST":
            if not request.is_json:
                return _error(415, "callbacks accept application/json only")
            try:
                body = request.get_json(silent=True)
            except RecursionError:  # `silent` covers ValueError only; deep nesting must be a 400
                return _error(400, "JSON nested too deeply")
            problem = callback_body_problem(body, callback_map())
            if problem:
                return _error(400, problem)
        return None

    # browsers ask for /favicon.ico on pages without an icon link (the login form)
    server.add_url_rule("/favicon.ico", "favicon", lambda: redirect("/_favicon.ico", code=301))

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | HTTPException:
        if request.path == CALLBACK_PATH or request.path.startswith("/api/"):
            return _error(exc.code or 500, exc.name)
        return exc

    @server.errorhandler(DashException)
    def _dash_error(exc: DashException) -> Response:
        # Dash raises these when a (client-built) body does not fit the callback it names.
        logger.warning("dashapp: rejected callback request path=%s error=%.200s", request.path, exc)
        return _error(400, "request does not match the callback")

    @server.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("dashapp: unhandled error path=%s", request.path)
        return _error(500, "internal error")

    @server.after_request
    def _headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS:
            resp.headers.setdefault(name, value)
        if request.path.startswith(("/api/", "/_dash-layout", "/_dash-update", "/_dash-dependencies")):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp


def page_policy(script_hashes: Sequence[str]) -> str:
    """The Content-Security-Policy of HTML pages: scripts from this origin plus Dash's hashed inline ones."""
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def install_csp(server: Flask, script_hashes: Sequence[str]) -> None:
    """Send the page policy with every HTML response (JSON keeps the short one in SECURITY_HEADERS)."""
    policy = page_policy(script_hashes)

    @server.after_request
    def _csp(resp: Response) -> Response:
        if resp.mimetype == "text/html":
            resp.headers["Content-Security-Policy"] = policy
        return resp
