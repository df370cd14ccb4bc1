"""The per-request access guard: a live session, or HTTP Basic on /api/*, or a refusal."""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Response, g, jsonify, redirect, request
from flask_login import current_user

from dashapp.auth.basic import parse_basic
from dashapp.auth.core import Auth
from dashapp.auth.tokens import is_bearer, token_user
from dashapp.auth.users import User

logger = logging.getLogger(__name__)

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
METRICS_PATH = "/metrics"  # Prometheus: the view checks its own scrape token (dashapp.http_metrics)
PUBLIC_PATHS = frozenset({"/healthz", LOGIN_PATH, "/_favicon.ico", "/favicon.ico"})
PUBLIC_PREFIXES = ("/_dash-component-suites/",)  # framework JS/CSS shipped inside the packages
JSON_PREFIXES = ("/_dash-", "/api/", "/assets/", "/_reload-hash")
MAX_NAME_LEN = 64
# polled by the page's own script (dashapp.tick): a Basic challenge would make the browser ask for a
# password in a dialog when the session ends, instead of the page saying so
NO_CHALLENGE = frozenset({"/api/tick"})


def client_addr() -> str:
    """The client's address (ProxyFix has applied the trusted X-Forwarded-For hops, if any)."""
    return request.remote_addr or "unknown"


def too_many(wait_s: int) -> Response:
    """429 with Retry-After: the answer to any credential check during a throttle."""
    resp = jsonify(error="too many failed logins; try again later", retry_after_s=wait_s)
    resp.status_code = 429
    resp.headers["Retry-After"] = str(max(1, wait_s))
    return resp


def _basic_user(auth: Auth) -> User | Response | None:
    """The user of a valid Authorization header, a 429 during a throttle, or None."""
    creds = parse_basic(request.headers.get("Authorization"))
    if creds is None:
        return None
    name, password = creds[0].strip().lower()[:MAX_NAME_LEN], creds[1]
    addr = client_addr()
    wait = auth.throttle.retry_after(name, addr)
    if wait > 0:
        logger.warning("dashapp.auth: basic auth throttled user=%s addr=%s wait_s=%d", name, addr, wait)
        return too_many(wait)
    user = auth.basic.verify(name, password)
    if user is None:
        auth.throttle.failure(name, addr)
        logger.warning("dashapp.auth: basic auth failed user=%s addr=%s", name, addr)
    return user


def guard(auth: Auth) -> Response | None:
    """Before every request: let public paths and signed-in users through, refuse the rest."""
    path = request.path
    own_check = path == METRICS_PATH  # the view checks the scrape token or an admin session itself
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or own_check or current_user.is_authenticated:
        return None
    if path.startswith("/api/"):
        bearer = is_bearer(request.headers.get("Authorization"))  # per-user API token (auth/tokens.py)
        found = token_user(auth.users) if bearer else _basic_user(auth)
        if isinstance(found, Response):
            return found
        if found is not None:
            g.api_user = found
            return None
        resp = jsonify(error="authentication required")
        resp.status_code = 401
        if path not in NO_CHALLENGE:
            resp.headers["WWW-Authenticate"] = 'Basic realm="fraud-dashboard", charset="UTF-8"'
        return resp
    if path.startswith(JSON_PREFIXES) or request.method != "GET":
        resp = jsonify(error="session expired or not logged in")
        resp.status_code = 401
        return resp
    return redirect(f"{LOGIN_PATH}?next={quote(path)}", code=302)  # type: ignore[return-value]
