"""`DELETE /api/users/<name>/sessions`: log a user out everywhere (the user themself or an admin)."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify

from dashapp.auth.core import Auth, current_name, current_role
from dashapp.auth.users import NAME_RE

logger = logging.getLogger(__name__)
REVOKE_RULE = "/api/users/<name>/sessions"


def _error(status: int, message: str) -> Response:
    resp = jsonify(error=message)
    resp.status_code = status
    return resp


def install_revoke(server: Flask, auth: Auth) -> None:
    """Register the route; the access guard has already required a session or HTTP Basic.

    DELETE is never sent cross-site without a CORS preflight, which this app never grants, so no
    form token is needed (as for the other /api/* routes).
    """

    def revoke(name: str) -> Response:
        actor = current_name()
        if actor != name and current_role() != "admin":
            return _error(403, "only an admin may log out another user")
        if not NAME_RE.fullmatch(name) or auth.users.get(name) is None:
            return _error(404, "no such user")
        closed = auth.sessions.close_all(name)
        logger.info("dashapp.auth: sessions revoked user=%s by=%s sessions=%d", name, actor, closed)
        return jsonify(user=name, sessions_closed=closed)

    server.add_url_rule(REVOKE_RULE, "api_revoke_sessions", revoke, methods=["DELETE"])
