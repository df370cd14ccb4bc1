"""Admin API for API tokens: `GET/POST /api/tokens`, `DELETE /api/tokens/<id>` (the secret shown once)."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify

from dashapp.api_actions import json_body, refusal, text_field
from dashapp.api_common import ApiError, check_session_intent
from dashapp.auth.core import app_auth, current_name, current_role
from dashapp.auth.tokens import TokenError, TokenStore

logger = logging.getLogger(__name__)


def _admin() -> str:
    name = current_name()
    if current_role() != "admin":
        logger.warning("dashapp.api: token request refused for non-admin user=%s", name)
        raise ApiError(403, "only admins manage API tokens")
    return name


def install_tokens_api(server: Flask, store: TokenStore) -> None:
    """Register the routes (the access guard has authenticated /api/*; each route requires an admin)."""

    def guarded(view: object) -> Response:
        try:
            return view()  # type: ignore[operator]
        except ApiError as exc:
            return refusal(exc.status, str(exc), **exc.extra)
        except TokenError as exc:
            return refusal(400, str(exc))
        except redis.RedisError as exc:
            logger.warning("dashapp.api: token store unreachable error=%s", exc)
            return refusal(503, "cannot reach the token store now; try again")

    def listing() -> Response:
        _admin()
        return jsonify(tokens=[t.to_dict() for t in store.all()])

    def create() -> Response:
        admin = _admin()
        check_session_intent()
        body = json_body()
        user = text_field(body, "user", 64, required=True).strip().lower()
        auth = app_auth(server)
        if auth is None or auth.users.get(user) is None:
            raise ApiError(404, "no such user")
        info, secret = store.create(user, text_field(body, "name", 64))
        logger.info("dashapp.api: token created id=%s user=%s by=%s", info.id, user, admin)
        resp = jsonify(**info.to_dict(), token=secret, shown_once=True)
        resp.status_code = 201
        return resp

    def revoke(token_id: str) -> Response:
        admin = _admin()
        check_session_intent()
        info = store.revoke(token_id)
        if info is None:
            raise ApiError(404, "no such token")
        logger.info("dashapp.api: token revoked id=%s by=%s", info.id, admin)
        return jsonify(revoked=info.to_dict())

    server.add_url_rule("/api/tokens", "api_tokens", lambda: guarded(listing), methods=["GET"])
    server.add_url_rule("/api/tokens", "api_tokens_create", lambda: guarded(create), methods=["POST"])
    server.add_url_rule(
        "/api/tokens/<token_id>",
        "api_tokens_revoke",
        lambda token_id: guarded(lambda: revoke(token_id)),
        methods=["DELETE"],
    )
