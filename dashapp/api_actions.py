"""Write API: `POST /api/alerts/<id>/ack|assign|resolve`, the console's workflow with its version check."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, Response, jsonify, request

from dashapp.api_common import ApiError, check_session_intent
from dashapp.auth.core import current_name
from dashapp.store import AlertNotFound, AlertRow, AlertWorkflow, InvalidAction, VersionConflict
from dashapp.store.workflow import MAX_NOTE_CHARS

logger = logging.getLogger(__name__)

MAX_VERSION = 2**53  # what a JSON client can hold exactly (the console's bound too)
DISPOSITIONS = {"fraud": "resolve_fraud", "false_positive": "resolve_false_positive"}


def refusal(status: int, message: str, **extra: Any) -> Response:
    resp = jsonify(error=message, **extra)
    resp.status_code = status
    return resp


def json_body() -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); 415/400 for anything else."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if not request.is_json:
        raise ApiError(415, "send the body as application/json")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, or nesting too deep
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


def _if_match() -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdecimal() or len(text) > 16:
        raise ApiError(400, f"If-Match must be the alert's version, got {raw!r:.40}")
    return int(text)


def expected_version(body: dict[str, Any]) -> int:
    """The version the caller saw: body `version` or `If-Match` (the ETag); 428 if neither."""
    version, header = body.get("version"), _if_match()
    if version is None and header is None:
        raise ApiError(428, "give the version you saw: body `version` or an If-Match header")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ApiError(400, "version must be an integer")
    if version is not None and header is not None and version != header:
        raise ApiError(400, "body version and If-Match disagree")
    chosen = version if version is not None else (header or 0)
    if not 0 < chosen < MAX_VERSION:
        raise ApiError(400, f"version must be between 1 and {MAX_VERSION - 1}")
    return chosen


def text_field(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    """A text field of the body: a string Redis can store (no lone surrogates), at most `limit`."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, f"{name} is not valid Unicode text (a lone surrogate)") from None
    if len(value) > limit:
        raise ApiError(400, f"{name} is too long (max {limit} characters)")
    return value


def _action(kind: str, body: dict[str, Any], user: str) -> str:
    """The store's action for a route and body (the console's: an analyst assigns to themself)."""
    if kind == "ack":
        return "acknowledge"
    if kind == "assign":
        assignee = text_field(body, "assignee", 100, required=True).strip().lower()
        if assignee != user:
            raise ApiError(403, "an alert is assigned to the analyst taking it, as in the console")
        return "assign_to_me"
    disposition = body.get("disposition")
    if disposition not in DISPOSITIONS:
        raise ApiError(400, f"disposition must be one of {', '.join(DISPOSITIONS)}")
    return DISPOSITIONS[str(disposition)]


def _answer(row: AlertRow, status: int = 200, **extra: Any) -> Response:
    resp = jsonify(alert=row.to_dict(), **extra)
    resp.status_code = status
    resp.headers["ETag"] = f'"{row.version}"'
    return resp


def _refused(wf: AlertWorkflow, alert_id: str, exc: Exception) -> Response:
    """The 4xx (or 503) answer of an action the store refused."""
    if isinstance(exc, ApiError):
        return refusal(exc.status, str(exc), **exc.extra)
    if isinstance(exc, VersionConflict):
        current = exc.current if isinstance(exc.current, AlertRow) else None
        resp = refusal(409, str(exc), current_version=exc.current_version, changed_by=exc.changed_by,
                       alert=current.to_dict() if current else None)  # fmt: skip
        resp.headers["ETag"] = f'"{exc.current_version}"'
        return resp
    if isinstance(exc, InvalidAction):  # the status forbids it (the arguments were checked before)
        try:
            return _answer(wf.get(alert_id), 409, error=str(exc))
        except AlertNotFound:
            pass
    if isinstance(exc, AlertNotFound | InvalidAction):
        return refusal(404, "no such alert")
    logger.warning("dashapp.api: alert action failed on Redis alert_id=%.80s error=%s", alert_id, exc)
    return refusal(503, "cannot reach the alert store now; try again")


def act(wf: AlertWorkflow, alert_id: str, kind: str) -> Response:
    """Apply one workflow action for the authenticated user; every refusal is a 4xx."""
    user = current_name()
    try:
        check_session_intent()
        body = json_body()
        version = expected_version(body)
        action = _action(kind, body, user)
        note = text_field(body, "note", MAX_NOTE_CHARS)
        return _answer(wf.act(alert_id, action, user, version, note))
    except (ApiError, AlertNotFound, VersionConflict, InvalidAction, redis.RedisError) as exc:
        return _refused(wf, alert_id, exc)


def install_alert_actions(server: Flask, wf: AlertWorkflow) -> None:
    """Register the three write routes (the access guard has authenticated /api/*)."""

    def route(kind: str) -> Callable[[str], Response]:
        def view(alert_id: str) -> Response:
            return act(wf, alert_id, kind)

        view.__name__ = f"api_alert_{kind}"
        return view

    for kind in ("ack", "assign", "resolve"):
        rule = f"/api/alerts/<alert_id>/{kind}"
        server.add_url_rule(rule, f"api_alert_{kind}", route(kind), methods=["POST"])
