"""Model registry API: read it; change a state, roll back, delete a version (admins, audited)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, Response, jsonify, request

from common.model_registry import STATES, ModelEntry, champion_of
from dashapp.api_common import ApiError
from dashapp.api_rules import answer, comment_arg, error_answer, handled, writer
from dashapp.openapi_parts import ADMIN, Op, ok, op, path, query
from model.drift_store import DriftChecks
from model.live_compare import read_live
from model.performance import PerformanceChecks
from model.registry import ModelRegistry, NotRegistered, RegistryError


def entry_view(
    e: ModelEntry,
    drift: dict[str, Any] | None = None,
    live: dict[str, float] | None = None,
    performance: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the API and the console show of a version (the card's ranges and held-out metrics, its
    latest drift check: `python -m model drift`, its checks by labels, newest range first: `python -m
    model performance` and the retraining schedule, and, in shadow, how it compares live with the
    champion: model/live_compare.py)."""
    card = e.card
    return {
        "drift": drift,
        "performance": performance or [],
        "live": live,
        "version": e.version,
        "state": e.state,
        "registered_by": e.registered_by,
        "registered_at": e.registered_at,
        "changed_by": e.changed_by,
        "changed_at": e.changed_at,
        "comment": e.comment,
        "champion_since": e.champion_since or None,
        "sha256": e.sha256,
        "size": e.size,
        "train_range": card.get("train_range"),
        "test_range": card.get("test_range"),
        "metrics": card.get("metrics"),
        "feature_version": card.get("feature_version"),
    }


def registry_views(registry: ModelRegistry) -> list[dict[str, Any]]:
    """Every version, newest first, with its latest drift check and its live counts against the
    current champion."""
    entries = registry.entries()
    checks = DriftChecks(registry.client, registry.keys).latest()
    by_labels = PerformanceChecks(registry.client, registry.keys).all()
    live = read_live(registry.client, registry.keys)
    champion = champion_of(entries)
    rows = sorted(entries.values(), key=lambda e: e.registered_at, reverse=True)
    against = champion.version if champion else ""
    return [
        entry_view(e, checks.get(e.version), live.get(e.version, {}).get(against), by_labels.get(e.version))
        for e in rows
    ]


def _refused(exc: RegistryError) -> ApiError:
    return ApiError(404 if isinstance(exc, NotRegistered) else 409, str(exc))


def _reachable(view: Callable[..., Response]) -> Callable[..., Response]:
    """Redis down: 503 with the reason, never a 500."""

    def wrapper(**kwargs: Any) -> Response:
        try:
            return view(**kwargs)
        except redis.RedisError as exc:
            return error_answer(
                ApiError(503, f"the model registry cannot be reached now ({type(exc).__name__})")
            )

    wrapper.__name__ = view.__name__
    return wrapper


def install_models_api(server: Flask, registry: ModelRegistry) -> None:
    """Read the registry (any signed-in user); change a state, roll back, delete (admins, audited)."""

    @_reachable
    @handled
    def list_models() -> Response:
        return jsonify(models=registry_views(registry), history=registry.history(20))

    @_reachable
    @handled
    def set_state(version: str) -> Response:
        author = writer()
        body = request.get_json(silent=True)
        target = request.args.get("state") or (body.get("state") if isinstance(body, dict) else None)
        if target not in STATES:
            raise ApiError(400, f"state must be one of {', '.join(STATES)}")
        try:
            moved = registry.set_state(version, str(target), author, comment_arg(body))
        except RegistryError as exc:
            raise _refused(exc) from None
        return answer(200, moved=moved, by=author)

    @_reachable
    @handled
    def rollback() -> Response:
        author = writer()
        try:
            moved = registry.rollback(author, comment_arg(request.get_json(silent=True)))
        except RegistryError as exc:
            raise _refused(exc) from None
        return answer(200, moved=moved, by=author)

    @_reachable
    @handled
    def delete(version: str) -> Response:
        author = writer()
        try:
            registry.delete(version, author, comment_arg())
        except RegistryError as exc:
            raise _refused(exc) from None
        return answer(200, deleted=version, by=author)

    server.add_url_rule("/api/models", "api_models", list_models, methods=["GET"])
    server.add_url_rule("/api/models/<version>", "api_model_delete", delete, methods=["DELETE"])
    server.add_url_rule("/api/models/<version>/state", "api_model_state", set_state, methods=["POST"])
    server.add_url_rule("/api/models/rollback", "api_models_rollback", rollback, methods=["POST"])


MODELS_PATHS: dict[str, dict[str, Op]] = {
    "/api/models": {
        "get": op(
            "the model registry (docs/model.md): every version, newest first, with its state "
            "(candidate, shadow, champion, retired), who registered and changed it, its training and "
            "held-out ranges and metrics (precision and recall at the alert threshold 0.8 among them), its "
            "latest drift check, its checks by labels, newest range first (`performance`: precision over "
            "time), its live comparison with the champion "
            "while in shadow (`live`); and the newest 20 registry changes",
            ok("models, history"),
            tag="models",
        )
    },
    "/api/models/{version}/state": {
        "post": op(
            "move a version to `state` (admins; JSON body {state, comment} or query); making one champion "
            "retires the current champion; bridges load the new champion within seconds; audited",
            ok("moved (version -> state), by"),
            tag="models",
            params=[path("version", "the model version (its directory name)"), *query("state", "comment")],
            body={"type": "object"},
            errors={**ADMIN, "400": "unknown state", "404": "no such version", "409": "change not allowed"},
        )
    },
    "/api/models/{version}": {
        "delete": op(
            "delete a candidate or retired version and its model file (admins; audited)",
            ok("deleted, by"),
            tag="models",
            params=[path("version", "the model version (its directory name)"), *query("comment")],
            errors={**ADMIN, "404": "no such version", "409": "the version is a champion or in shadow"},
        )
    },
    "/api/models/rollback": {
        "post": op(
            "make the champion before the current one champion again (admins; audited)",
            ok("moved, by"),
            tag="models",
            params=[*query("comment")],
            errors={**ADMIN, "409": "nothing to roll back to"},
        )
    },
}
