"""The dashboard app and signed-in Flask test clients for the tests/test_security_* modules (no tests)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import redis
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from dashapp.app import create_app
from dashapp.settings import DashSettings

PASSWORDS = {"ann": "ann-password-1", "bob": "bob-password-1", "root": "root-password-1"}
ROLES = {"ann": "analyst", "bob": "analyst", "root": "admin"}


def write_users(path: Path) -> Path:
    """A users file with two analysts (ann, bob) and one admin (root).

    Hashed with a cheap pbkdf2 (which the users file accepts) rather than add_user's scrypt: these
    tests make hundreds of login attempts, and a scrypt check costs 0.1-0.4 s on a busy machine.
    """
    entries = {
        name: {"role": ROLES[name], "password_hash": generate_password_hash(pw, method="pbkdf2:sha256:1000")}
        for name, pw in PASSWORDS.items()
    }
    path.write_text(json.dumps({"users": entries}))
    return path


def make_app(redis_client: redis.Redis, prefix: str, users_file: Path, **settings: Any) -> Any:
    """The real dashboard app over the test's Redis prefix (`settings` override DashSettings fields)."""
    settings = {"dash_secret_key": "s" * 32, "dash_users_file": str(users_file), **settings}
    return create_app(DashSettings(redis_key_prefix=prefix, **settings), redis_client)


def form_fields(client: FlaskClient, path: str = "/login") -> dict[str, str]:
    """The hidden fields of the login form served at `path` (csrf token, next)."""
    page = client.get(path).get_data(as_text=True)
    found = dict(re.findall(r'name="(csrf_token|next)" value="([^"]*)"', page))
    return {k: html.unescape(v) for k, v in found.items()}


def login(
    client: FlaskClient,
    name: str,
    password: str | None = None,
    *,
    addr: str = "127.0.0.1",
    next_url: str | None = None,
    path: str = "/login",
) -> Any:
    """Submit the real login form from `addr` (a browser's flow: GET the form, POST it back)."""
    fields = form_fields(client, path)
    form = {
        "username": name,
        "password": PASSWORDS.get(name, "") if password is None else password,
        "csrf_token": fields["csrf_token"],
        "next": fields.get("next", "/") if next_url is None else next_url,
    }
    return client.post("/login", data=form, environ_overrides={"REMOTE_ADDR": addr})


def logout(client: FlaskClient, **form: str) -> Any:
    """Press the page's Log out button (token from the layout, as the page sends it)."""
    token = _token_in(client.get("/_dash-layout").get_json())
    assert token, "no logout form token in the layout"
    return client.post("/logout", data={"csrf_token": token, **form})


def _token_in(node: Any) -> str:
    """The value of the hidden csrf_token input in a serialised layout ("" if none)."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("name") == "csrf_token":
            return str(props.get("value") or "")
        return next((t for t in map(_token_in, node.values()) if t), "")
    if isinstance(node, list):
        return next((t for t in map(_token_in, node) if t), "")
    return ""
