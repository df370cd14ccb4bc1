"""Shadow rules API: GET/PUT/DELETE /api/rules/shadow and POST /api/rules/shadow/promote (admins write)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify

from common.rulelang import load_text, to_document
from dashapp.api_common import ApiError
from dashapp.api_rules import answer, body_text, comment_arg, expected_version, handled, writer
from dashapp.openapi_parts import ADMIN, IF_MATCH, Op, ok, op, query
from dashapp.store.shadow_report import ShadowReader
from dashapp.store.shadow_store import ShadowStore


def install_shadow_api(server: Flask, store: ShadowStore, reader: ShadowReader) -> None:
    """The one shadow set: read it with its report, publish, drop, promote (ETag / If-Match: its id)."""

    @handled
    def get_shadow() -> Response:
        doc = store.current()
        if doc is None:
            resp = jsonify(shadow=None, history=store.history(10))
            resp.headers["ETag"] = '"0"'
            return resp
        body: dict[str, Any] = {"document": to_document(doc.rules), **reader.report(doc)}
        body["warnings"] = store.gaps(doc)
        body["history"] = store.history(10)
        resp = jsonify(body)
        resp.headers["ETag"] = f'"{doc.id}"'
        return resp

    @handled
    def put_shadow() -> Response:
        author = writer()
        document = load_text(body_text())
        doc = store.publish(document, author, comment_arg(), expected_version())
        resp = answer(200, id=doc.id, base_version=doc.base_version, by=doc.by, warnings=store.gaps(doc))
        resp.headers["ETag"] = f'"{doc.id}"'
        return resp

    @handled
    def drop_shadow() -> Response:
        author = writer()
        doc = store.drop(author, comment_arg(), expected_version())
        return answer(200, dropped=doc.id, by=author)

    @handled
    def promote_shadow() -> Response:
        author = writer()
        expected = expected_version()
        if expected is None:
            raise ApiError(428, "promote needs the shadow id you reviewed: If-Match or ?expected_version=")
        shadow, live = store.promote(author, comment_arg(), expected)
        return answer(200, promoted=shadow.id, version=live.version, updated_by=live.updated_by)

    server.add_url_rule("/api/rules/shadow", "api_shadow_get", get_shadow, methods=["GET"])
    server.add_url_rule("/api/rules/shadow", "api_shadow_put", put_shadow, methods=["PUT"])
    server.add_url_rule("/api/rules/shadow", "api_shadow_delete", drop_shadow, methods=["DELETE"])
    server.add_url_rule("/api/rules/shadow/promote", "api_shadow_promote", promote_shadow, methods=["POST"])


SHADOW_PATHS: dict[str, dict[str, Op]] = {
    "/api/rules/shadow": {
        "get": op(
            "the shadow rule set (docs/shadow.md): its document, id, author, the live version it was "
            "published against, per-rule fires shadow vs live (exact), overlap, added / removed, "
            "precision from ground truth and from analysts' dispositions over the newest pairs, a sample "
            "of shadow-only and live-only alerts, and its history; `shadow: null` when none (ETag: id)",
            ok("shadow, document, events, rules, shadow_only, live_only, warnings, history"),
            tag="rules",
        ),
        "put": op(
            "publish a rule document as the shadow set (admins); validated like PUT /api/rules; "
            "replaces the current shadow set and clears its findings",
            ok("id, base_version, by, warnings (history the live rules' card state does not keep)"),
            tag="rules",
            params=[*query("comment", "expected_version"), IF_MATCH],
            body={"type": "object"},
            errors={**ADMIN, "400": "invalid document (with path)", "409": "shadow changed meanwhile"},
        ),
        "delete": op(
            "drop the shadow set (admins): bridges stop evaluating it within a poll; audited",
            ok("dropped, by"),
            tag="rules",
            params=[*query("comment", "expected_version"), IF_MATCH],
            errors={**ADMIN, "404": "no shadow set", "409": "shadow changed meanwhile"},
        ),
    },
    "/api/rules/shadow/promote": {
        "post": op(
            "publish the shadow set as the next live rules version and remove it, in one audited change "
            "(admins; If-Match: the shadow id reviewed)",
            ok("promoted, version, updated_by"),
            tag="rules",
            params=[*query("comment", "expected_version"), IF_MATCH],
            errors={
                **ADMIN,
                "404": "no shadow set",
                "409": "shadow changed meanwhile",
                "428": "no shadow id given",
            },
        )
    },
}
