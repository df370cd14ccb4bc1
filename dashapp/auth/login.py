"""Login and logout forms (CSRF token, same-origin check, throttle, device cookie) and install_auth."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, redirect, request, session
from flask_login import LoginManager, login_user, logout_user

from dashapp.auth.core import EXTENSION, Auth, current_name, current_role, session_user
from dashapp.auth.device import DEVICE_COOKIE
from dashapp.auth.guard import LOGIN_PATH, LOGOUT_PATH, MAX_NAME_LEN, client_addr, guard
from dashapp.auth.page import login_page
from dashapp.auth.revoke import install_revoke
from dashapp.auth.users import User

__all__ = ["LOGIN_PATH", "LOGOUT_PATH", "csrf_token", "current_name", "current_role", "install_auth"]
logger = logging.getLogger(__name__)

# A post-login target: a same-site path of URL characters only. No scheme or host, no "//" or "/\"
# start, and no whitespace or control characters, which browsers strip ("/\t/evil" -> "//evil")
# and which cannot go in a Location header at all.
_SAFE_NEXT = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?#]*")


def safe_next(raw: str | None) -> str:
    """`raw` if it is a same-origin relative path that is safe to redirect to, else "/"."""
    if raw and len(raw) < 512 and _SAFE_NEXT.fullmatch(raw):
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


def token_ok() -> bool:
    """The form carries this session's token and comes from this site."""
    sent, expected = request.form.get("csrf_token", ""), session.get("csrf")
    valid = isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())
    return valid and _same_origin()


def _page(status: int, retry_after: int = 0, **kwargs: Any) -> Response:
    body = login_page(LOGIN_PATH, csrf_token(), safe_next(kwargs.pop("next_url", None)), **kwargs)
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    if retry_after:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def _signed_in_response(auth: Auth, user: User, device: str | None, next_url: str | None) -> Response:
    session.clear()  # a fresh session per login: no fixation
    session.permanent = True
    login_user(user)
    session["sid"] = auth.sessions.open(user.name)
    csrf_token()
    resp: Response = redirect(safe_next(next_url), code=303)  # type: ignore[assignment]
    if device is None:  # this browser is known to the throttle from now on
        resp.set_cookie(
            DEVICE_COOKIE,
            auth.devices.issue(user.name),
            max_age=auth.devices.max_age_s,
            path=LOGIN_PATH,
            secure=auth.secure_cookies,
            httponly=True,
            samesite="Strict",
        )
    return resp


def _login_post(auth: Auth) -> Response:
    name = request.form.get("username", "").strip().lower()[:MAX_NAME_LEN]
    password = request.form.get("password", "")
    next_url = request.form.get("next")
    if not _same_origin():
        return _page(403, error="Cross-site login refused.", next_url=next_url)
    if not token_ok():
        return _page(400, error="The form expired; please sign in again.", username=name, next_url=next_url)
    addr = client_addr()
    device = auth.devices.device_for(request.cookies.get(DEVICE_COOKIE), name)
    wait = auth.throttle.retry_after(name, addr, device)
    if wait > 0:
        logger.warning("dashapp.auth: login throttled user=%s addr=%s wait_s=%d", name, addr, wait)
        error = f"Too many failed attempts; try again in {wait} s."
        return _page(429, retry_after=wait, error=error, username=name, next_url=next_url)
    user = auth.users.verify(name, password)
    if user is None:
        auth.throttle.failure(name, addr, device)
        logger.warning("dashapp.auth: login failed user=%s addr=%s known_device=%s", name, addr, bool(device))
        return _page(401, error="Unknown user name or wrong password.", username=name, next_url=next_url)
    auth.throttle.success(name, addr, device)
    logger.info("dashapp.auth: login user=%s role=%s addr=%s", user.name, user.role, addr)
    return _signed_in_response(auth, user, device, next_url)


def _logout(auth: Auth) -> Response:
    if not token_ok():
        return Response("bad logout request", status=400, mimetype="text/plain")
    name = current_name()
    if request.form.get("scope") == "everywhere":
        closed = auth.sessions.close_all(name)
        logger.info("dashapp.auth: logout everywhere user=%s sessions=%d", name, closed)
    else:
        auth.sessions.close(session.get("sid"), name)
        logger.info("dashapp.auth: logout user=%s", name)
    logout_user()
    session.clear()
    return redirect(LOGIN_PATH + "?out=1", code=303)  # type: ignore[return-value]


def install_auth(server: Flask, auth: Auth) -> None:
    """Register flask-login, the login/logout routes, session revocation and the access guard."""
    server.extensions[EXTENSION] = auth
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.init_app(server)

    @manager.user_loader
    def _load(user_id: str) -> User | None:
        del user_id  # session_user reads it from the session, with the session id beside it
        return session_user(auth, session)

    def login_view() -> Response:
        if request.method == "POST":
            return _login_post(auth)
        info = "You are signed out." if request.args.get("out") else ""
        return _page(200, info=info, next_url=request.args.get("next"))

    server.add_url_rule(LOGIN_PATH, "login", login_view, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "logout", lambda: _logout(auth), methods=["POST"])
    install_revoke(server, auth)
    server.before_request(lambda: guard(auth))
