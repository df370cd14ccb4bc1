"""Login, logout and the per-request access guard (session cookie; HTTP Basic on /api/*)."""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from flask import Flask, Response, g, has_request_context, jsonify, redirect, request, session
from flask_login import LoginManager, current_user, login_user, logout_user

from dashapp.auth.basic import BasicVerifier, parse_basic
from dashapp.auth.page import login_page
from dashapp.auth.users import User, UserDirectory

logger = logging.getLogger(__name__)

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
PUBLIC_PATHS = frozenset({"/healthz", LOGIN_PATH, "/_favicon.ico", "/favicon.ico"})
PUBLIC_PREFIXES = ("/_dash-component-suites/",)  # framework JS/CSS shipped inside the packages
JSON_PREFIXES = ("/_dash-", "/api/", "/assets/", "/_reload-hash")
MAX_NAME_LEN = 64


class Throttle(Protocol):
    """What the login needs from dashapp.store.LoginThrottle (adapted in dashapp.auth.throttle)."""

    def retry_after(self, user: str, addr: str) -> float: ...
    def failure(self, user: str, addr: str) -> None: ...
    def success(self, user: str, addr: str) -> None: ...


@dataclass(frozen=True)
class Auth:
    """The authentication collaborators of one app."""

    users: UserDirectory
    basic: BasicVerifier
    throttle: Throttle


def _safe_next(raw: str | None) -> str:
    """Only same-site absolute paths are allowed as a post-login target (no open redirect)."""
    if raw and raw.startswith("/") and not raw.startswith(("//", "/\\")) and len(raw) < 512:
        return raw
    return "/"


def _same_origin() -> bool:
    """A cross-site form POST carries a foreign Origin (or Referer): refuse it."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return source is None
    return urlsplit(source).netloc == request.host


def csrf_token() -> str:
    """Return this session's form token, creating one if needed."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def _token_ok() -> bool:
    sent, expected = request.form.get("csrf_token", ""), session.get("csrf")
    return isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())


def _signed_in() -> User | None:
    if not has_request_context():  # e.g. Dash validating the layout at start-up
        return None
    if current_user and current_user.is_authenticated:
        return current_user
    user = g.get("api_user")
    return user if isinstance(user, User) else None


def current_name() -> str:
    """The signed-in user's name (session or HTTP Basic), or "" outside a login."""
    user = _signed_in()
    return user.name if user is not None else ""


def current_role() -> str:
    """The signed-in user's role, or "" outside a login."""
    user = _signed_in()
    return user.role if user is not None else ""


def _page(status: int, **kwargs: Any) -> Response:
    body = login_page(LOGIN_PATH, csrf_token(), _safe_next(kwargs.pop("next_url", None)), **kwargs)
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _login_post(auth: Auth) -> Response:
    name = request.form.get("username", "").strip().lower()[:MAX_NAME_LEN]
    password = request.form.get("password", "")
    next_url = request.form.get("next")
    if not _same_origin():
        return _page(403, error="Cross-site login refused.", next_url=next_url)
    if not _token_ok():
        return _page(400, error="The form expired; please sign in again.", username=name, next_url=next_url)
    addr = request.remote_addr or "unknown"
    wait = auth.throttle.retry_after(name, addr)
    if wait > 0:
        logger.warning("dashapp.auth: login throttled user=%s addr=%s wait_s=%.0f", name, addr, wait)
        return _page(
            429,
            error=f"Too many failed attempts; try again in {wait:.0f} s.",
            username=name,
            next_url=next_url,
        )
    user = auth.users.verify(name, password)
    if user is None:
        auth.throttle.failure(name, addr)
        logger.warning("dashapp.auth: login failed user=%s addr=%s", name, addr)
        return _page(401, error="Unknown user name or wrong password.", username=name, next_url=next_url)
    auth.throttle.success(name, addr)
    session.clear()  # a fresh session per login: no fixation
    session.permanent = True
    login_user(user)
    csrf_token()
    logger.info("dashapp.auth: login user=%s role=%s addr=%s", user.name, user.role, addr)
    return redirect(_safe_next(next_url), code=303)  # type: ignore[return-value]


def _logout() -> Response:
    if not _token_ok() or not _same_origin():
        return Response("bad logout request", status=400, mimetype="text/plain")
    logger.info("dashapp.auth: logout user=%s", current_name())
    logout_user()
    session.clear()
    return redirect(LOGIN_PATH + "?out=1", code=303)  # type: ignore[return-value]


def _basic_user(auth: Auth) -> User | None:
    creds = parse_basic(request.headers.get("Authorization"))
    if creds is None:
        return None
    name, password = creds[0].strip().lower()[:MAX_NAME_LEN], creds[1]
    addr = request.remote_addr or "unknown"
    if auth.throttle.retry_after(name, addr) > 0:
        return None
    user = auth.basic.verify(name, password)
    if user is None:
        auth.throttle.failure(name, addr)
        logger.warning("dashapp.auth: basic auth failed user=%s addr=%s", name, addr)
    return user


def _guard(auth: Auth) -> Response | None:
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or current_user.is_authenticated:
        return None
    if path.startswith("/api/"):
        user = _basic_user(auth)
        if user is not None:
            g.api_user = user
            return None
        resp = jsonify(error="authentication required")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Basic realm="fraud-dashboard", charset="UTF-8"'
        return resp
    if path.startswith(JSON_PREFIXES) or request.method != "GET":
        resp = jsonify(error="session expired or not logged in")
        resp.status_code = 401
        return resp
    return redirect(f"{LOGIN_PATH}?next={quote(path)}", code=302)  # type: ignore[return-value]


def load_user(users: UserDirectory, user_id: object) -> User | None:
    """The user a session's `_user_id` names, if it still exists with the same password and role."""
    if not isinstance(user_id, str):
        return None
    user = users.get(user_id.partition(":")[0])
    if user is not None and hmac.compare_digest(user.get_id().encode(), user_id.encode()):
        return user
    return None


def install_auth(server: Flask, auth: Auth) -> None:
    """Register flask-login, the login/logout routes and the access guard on the server."""
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.init_app(server)

    @manager.user_loader
    def _load(user_id: str) -> User | None:
        return load_user(auth.users, user_id)

    def login_view() -> Response:
        if request.method == "POST":
            return _login_post(auth)
        info = "You are signed out." if request.args.get("out") else ""
        return _page(200, info=info, next_url=request.args.get("next"))

    server.add_url_rule(LOGIN_PATH, "login", login_view, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "logout", _logout, methods=["POST"])
    server.before_request(lambda: _guard(auth))
