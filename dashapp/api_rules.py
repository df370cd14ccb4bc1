"""Rules API: GET/PUT /api/rules (JSON or YAML), versions, diff and restore; admin writes, CSRF-safe."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from typing import Any

import yaml
from flask import Flask, Response, jsonify, request

from common.rulelang import load_text
from common.rules import RuleValidationError
from dashapp.api_common import ApiError, check_session_intent, same_origin
from dashapp.auth.core import current_name, current_role
from dashapp.store.errors import InvalidAction, StoreError, VersionConflict
from dashapp.store.list_entries import ListTooLarge
from dashapp.store.rule_quality import WINDOWS, RuleQualityReader, live_quality
from dashapp.store.rule_versions import check_number
from dashapp.store.rules_store import MAX_COMMENT, RulesStore

logger = logging.getLogger(__name__)

MAX_INFLATED = 64 * 1024 * 1024  # a gzip body may expand to this much (a bomb stops here)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def answer(status: int, **body: Any) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    return resp


def error_answer(exc: Exception) -> Response:
    """The 4xx answer of a refused request: the message, and where the problem is when known."""
    status, extra = 409, {}  # StoreError: a conflict (in use, changing too often)
    if isinstance(exc, ApiError):
        status, extra = exc.status, exc.extra
    elif isinstance(exc, RuleValidationError):
        status, extra = 400, {"path": exc.path}
    elif isinstance(exc, VersionConflict):
        status, extra = 409, {"current_version": exc.current_version}
    elif isinstance(exc, ListTooLarge):
        status = 413
    elif isinstance(exc, InvalidAction):
        status, extra = 400, {"path": getattr(exc, "where", "")}
    elif isinstance(exc, LookupError):  # VersionNotFound, ListNotFound
        status = 404
    return answer(status, error=str(exc), **extra)


def handled(view: Callable[..., Response]) -> Callable[..., Response]:
    """Answer the store's and the validator's refusals with 4xx (never a 500 for bad input)."""

    def wrapper(**kwargs: Any) -> Response:
        try:
            return view(**kwargs)
        except (ApiError, RuleValidationError, StoreError) as exc:
            return error_answer(exc)

    wrapper.__name__ = view.__name__
    return wrapper


def writer() -> str:
    """The admin making this write, or ApiError 403 (role, cross-site, or a session without the token)."""
    name = current_name()
    if current_role() != "admin":
        logger.warning("dashapp.api: write refused for non-admin user=%s path=%s", name, request.path)
        raise ApiError(403, "only admins can change rules and lists")
    if not same_origin():
        raise ApiError(403, "cross-site request refused")
    check_session_intent()  # a browser session: the cookie alone does not prove intent
    return name


def body_bytes() -> bytes:
    """The request body; `Content-Encoding: gzip` is inflated up to MAX_INFLATED bytes."""
    raw = request.get_data(cache=False)
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise ApiError(415, "Content-Encoding must be gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, MAX_INFLATED)
    except zlib.error as exc:
        raise ApiError(400, f"body is not valid gzip: {exc}") from None
    if inflater.unconsumed_tail:
        raise ApiError(413, f"body inflates to more than {MAX_INFLATED:,} bytes")
    return out


def body_text() -> str:
    try:
        return body_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "body must be UTF-8 text") from None


def comment_arg(body: Any = None) -> str:
    """`?comment=` (or a JSON body's `comment`), bounded."""
    raw = request.args.get("comment")
    if raw is None and isinstance(body, dict):
        raw = body.get("comment")
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > MAX_COMMENT:
        raise ApiError(400, f"comment must be text of at most {MAX_COMMENT} characters")
    return raw


def expected_version() -> int | None:
    """`If-Match: "7"` (the ETag of GET /api/rules) or `?expected_version=7`; None when absent."""
    raw = request.headers.get("If-Match") or request.args.get("expected_version")
    if raw is None or raw.strip() == "*":
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdecimal() or len(text) > 12:
        raise ApiError(400, f"expected version must be a number, got {raw!r:.40}")
    return int(text)


def wants_yaml() -> bool:
    fmt = request.args.get("format", "")
    if fmt not in ("", "json", "yaml"):
        raise ApiError(400, "format must be json or yaml")
    return fmt == "yaml" or (not fmt and request.accept_mimetypes.best in YAML_TYPES)


def document_response(doc: dict[str, Any], version: int) -> Response:
    if wants_yaml():
        resp = Response(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), mimetype="application/yaml")
    else:
        resp = jsonify(doc)
    resp.headers["ETag"] = f'"{version}"'
    return resp


def install_rules_api(server: Flask, store: RulesStore, quality: RuleQualityReader | None = None) -> None:
    """GET/PUT /api/rules, /api/rules/versions[/<n>[/restore]], /api/rules/diff, /api/rules/quality."""

    @handled
    def get_rules() -> Response:
        doc = store.document()
        return document_response(doc, doc["version"])

    @handled
    def put_rules() -> Response:
        author = writer()
        obj = load_text(body_text())
        comment = comment_arg()
        before = store.current().version
        doc = store.publish(obj, author, comment, expected_version())
        resp = answer(200, version=doc.version, changed=doc.version != before, updated_by=doc.updated_by)
        resp.headers["ETag"] = f'"{doc.version}"'
        return resp

    @handled
    def versions() -> Response:
        limit, before = _int_arg("limit", 50), _int_arg("before", 0) or None
        return jsonify(versions=[v.to_dict() for v in store.versions(limit, before)])

    @handled
    def version(n: str) -> Response:
        record = store.version(n)
        if request.args.get("format") == "yaml" and record.document is not None:
            return document_response(record.document, record.version)
        return jsonify(record.to_dict())

    @handled
    def diff() -> Response:
        a, b = request.args.get("from"), request.args.get("to")
        if not a or not b:
            raise ApiError(400, "give both versions: ?from=A&to=B")
        return jsonify({"from": a, "to": b, "changes": store.diff(a, b)})

    @handled
    def restore(n: str) -> Response:
        author = writer()
        body = request.get_json(silent=True) if request.is_json else None
        doc = store.restore(n, author, comment_arg(body), expected_version())
        return answer(200, version=doc.version, restored_from=check_number(n), updated_by=doc.updated_by)

    @handled
    def rule_quality() -> Response:
        if quality is None:
            raise ApiError(404, "rule quality is not served here")
        now_ms = int(time.time() * 1000)
        rules = live_quality(quality, store.document(), now_ms)
        return jsonify(now_ms=now_ms, windows=[name for name, _ in WINDOWS], rules=rules)

    server.add_url_rule("/api/rules", "api_rules_get", get_rules, methods=["GET"])
    server.add_url_rule("/api/rules/quality", "api_rules_quality", rule_quality, methods=["GET"])
    server.add_url_rule("/api/rules", "api_rules_put", put_rules, methods=["PUT"])
    server.add_url_rule("/api/rules/versions", "api_rules_versions", versions, methods=["GET"])
    server.add_url_rule("/api/rules/versions/<n>", "api_rules_version", version, methods=["GET"])
    server.add_url_rule("/api/rules/diff", "api_rules_diff", diff, methods=["GET"])
    server.add_url_rule("/api/rules/versions/<n>/restore", "api_rules_restore", restore, methods=["POST"])


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdecimal() or len(raw) > 9:
        raise ApiError(400, f"{name} must be a non-negative whole number")
    return int(raw)


__all__ = ["ApiError", "answer", "body_text", "comment_arg", "handled", "install_rules_api", "writer"]
