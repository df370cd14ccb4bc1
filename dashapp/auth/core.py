"""The authentication collaborators of one app (Auth) and who a request or session cookie belongs to."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, g, has_request_context
from flask_login import current_user

from dashapp.auth.basic import BasicVerifier
from dashapp.auth.device import DeviceCookies
from dashapp.auth.sessions import SessionRegistry
from dashapp.auth.users import User, UserDirectory

EXTENSION = "dashapp.auth"  # the app's Auth in server.extensions (the WSGI tick front reads it there)


class Throttle(Protocol):
    """What the login needs from dashapp.store.throttle.LoginLimiter."""

    def retry_after(self, user: str, addr: str, device: str | None = None) -> int: ...
    def failure(self, user: str, addr: str, device: str | None = None) -> None: ...
    def success(self, user: str, addr: str, device: str | None = None) -> None: ...


@dataclass(frozen=True)
class Auth:
    """The authentication collaborators of one app."""

    users: UserDirectory
    basic: BasicVerifier
    throttle: Throttle
    sessions: SessionRegistry
    devices: DeviceCookies
    secure_cookies: bool = False


def app_auth(server: Flask) -> Auth | None:
    """The Auth installed on `server` by install_auth, if any."""
    auth = server.extensions.get(EXTENSION)
    return auth if isinstance(auth, Auth) else None


def load_user(users: UserDirectory, user_id: object) -> User | None:
    """The user a session's `_user_id` names, if it still exists with the same password and role."""
    if not isinstance(user_id, str):
        return None
    user = users.get(user_id.partition(":")[0])
    if user is not None and hmac.compare_digest(user.get_id().encode(), user_id.encode()):
        return user
    return None


def session_user(auth: Auth, data: Mapping[str, Any]) -> User | None:
    """The user of a verified session cookie's data, if that user exists and the session is open."""
    user = load_user(auth.users, data.get("_user_id"))
    if user is None or not auth.sessions.is_live(data.get("sid")):
        return None
    return user


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
