"""Backtest API: queue a draft's backtest, follow, cancel, delete and export runs (backtest/ runs them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask, Response, jsonify, request

from backtest.export import csv_text, json_text
from backtest.runs import RunNotFound, RunStore
from common.keys import RedisKeys
from common.rulelang import load_text, parse_document
from dashapp.api_common import ApiError
from dashapp.api_rules import body_text, handled, writer


def iso_ms(raw: Any, name: str) -> int | None:
    """An ISO-8601 time (naive = UTC) as epoch ms; None when absent; ApiError 400 when unreadable."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise ApiError(400, f"{name} must be an ISO-8601 time")
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO-8601 time, got {raw!r:.40}") from None
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp() * 1000)


def submit_draft(
    store: RunStore, client: redis.Redis, keys: RedisKeys, draft: Any, *, span: tuple[Any, Any], by: str,
    model: Any = None,
) -> str:  # fmt: skip
    """Validate a draft (a document, or its YAML/JSON text) against the lists that exist and queue it.

    Raises RuleValidationError (with `.path`) or ApiError; shared by the API and the rule builder.
    """
    document = load_text(draft) if isinstance(draft, str) else draft
    lists = [k.decode() if isinstance(k, bytes) else k for k in client.hkeys(keys.lists_index)]
    parse_document(document, known_lists=lists)  # refuse a bad draft now, not in the worker
    from_ms, to_ms = iso_ms(span[0], "from"), iso_ms(span[1], "to")
    if from_ms is not None and to_ms is not None and to_ms <= from_ms:
        raise ApiError(400, "the range must end after it starts")
    if model not in (None, "") and (not isinstance(model, str) or not client.hexists(keys.models, model)):
        raise ApiError(400, f"model: no model version {str(model)[:80]!r} is registered")
    return store.submit(document, from_ms, to_ms, by, model or None)


def install_backtest_api(server: Flask, client: redis.Redis, keys: RedisKeys) -> None:
    """POST/GET /api/backtests, GET/DELETE /api/backtests/<id>, POST .../cancel, GET .../export."""
    store = RunStore(client, keys)

    def found(run_id: str) -> dict[str, Any]:
        try:
            return store.get(run_id)
        except RunNotFound as exc:
            raise ApiError(404, str(exc)) from None

    @handled
    def start() -> Response:
        by = writer()  # the rules API's role: admins, same origin, and the page's token from sessions
        body = request.get_json(silent=True) if request.is_json else None
        if body is None:  # a bare YAML/JSON rules document, the range in the query
            body = {"draft": body_text(), "from": request.args.get("from"), "to": request.args.get("to"),
                    "model": request.args.get("model")}  # fmt: skip
        if not isinstance(body, dict) or "draft" not in body:
            raise ApiError(400, "send {draft, from, to} as JSON, or the draft document itself")
        run_id = submit_draft(
            store, client, keys, body["draft"], span=(body.get("from"), body.get("to")), by=by,
            model=body.get("model"),
        )  # fmt: skip
        resp = jsonify(id=run_id, status="queued")
        resp.status_code = 202
        resp.headers["Location"] = f"/api/backtests/{run_id}"
        return resp

    @handled
    def runs() -> Response:
        return jsonify(runs=store.runs())

    @handled
    def one(run_id: str) -> Response:
        run = found(run_id)
        if request.args.get("draft") != "1":  # the draft document only when asked for
            run["spec"].pop("draft", None)
        return jsonify(run=run, result=store.result(run_id))

    @handled
    def cancel(run_id: str) -> Response:
        writer()
        found(run_id)
        return jsonify(status=store.cancel(run_id))

    @handled
    def delete(run_id: str) -> Response:
        writer()
        found(run_id)
        return jsonify(deleted=store.delete(run_id))

    @handled
    def export(run_id: str) -> Response:
        run, fmt = found(run_id), request.args.get("format", "csv")
        if fmt not in ("csv", "json"):
            raise ApiError(400, "format must be csv or json")
        result = store.result(run_id)
        if result is None:
            raise ApiError(409, f"run {run_id} has no result yet (status {run['status']})")
        if fmt == "csv":
            resp = Response(csv_text(result), mimetype="text/csv")
        else:
            resp = Response(json_text(run, result), mimetype="application/json")
        resp.headers["Content-Disposition"] = f'attachment; filename="backtest-{run_id}.{fmt}"'
        return resp

    server.add_url_rule("/api/backtests", "api_backtests_start", start, methods=["POST"])
    server.add_url_rule("/api/backtests", "api_backtests", runs, methods=["GET"])
    server.add_url_rule("/api/backtests/<run_id>", "api_backtest", one, methods=["GET"])
    server.add_url_rule("/api/backtests/<run_id>", "api_backtest_delete", delete, methods=["DELETE"])
    server.add_url_rule("/api/backtests/<run_id>/cancel", "api_backtest_cancel", cancel, methods=["POST"])
    server.add_url_rule("/api/backtests/<run_id>/export", "api_backtest_export", export, methods=["GET"])
