"""Lists API: GET /api/lists, GET/PUT/DELETE /api/lists/<name> (JSON or text/csv), a list's audit."""

from __future__ import annotations

import msgspec
from flask import Flask, Response, jsonify, request, stream_with_context

from dashapp.api_common import ApiError
from dashapp.api_rules import answer, body_text, comment_arg, handled, writer
from dashapp.store.list_csv import csv_chunks, entries_from_csv
from dashapp.store.list_entries import ListInUse, check_name, entries_from_json, entry_json
from dashapp.store.lists import ListStore

CSV_TYPES = ("text/csv", "application/csv")


def _wants_csv() -> bool:
    fmt = request.args.get("format", "")
    if fmt not in ("", "json", "csv"):
        raise ApiError(400, "format must be json or csv")
    return fmt == "csv" or (not fmt and request.accept_mimetypes.best in CSV_TYPES)


def install_lists_api(server: Flask, lists: ListStore) -> None:
    """GET /api/lists; GET, PUT (replace; admins), DELETE (admins) /api/lists/<name>; its audit."""

    @handled
    def all_lists() -> Response:
        infos = [{"name": i.name, "count": i.count, "version": i.version} for i in lists.infos()]
        return jsonify(lists=infos, version=lists.version())

    @handled
    def get_list(name: str) -> Response:
        info = lists.info(check_name(name))
        if _wants_csv():
            resp = Response(stream_with_context(csv_chunks(lists.iter_entries(name))), mimetype="text/csv")
            resp.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        else:
            entries = [entry_json(v, e) for v, e in lists.iter_entries(name)]
            resp = jsonify(name=name, count=len(entries), version=info.version, entries=entries)
        resp.headers["ETag"] = f'"{info.version}"'
        return resp

    @handled
    def put_list(name: str) -> Response:
        author = writer()
        check_name(name)
        text = body_text()
        if request.mimetype in CSV_TYPES:
            entries, comment = entries_from_csv(text, lists.max_entries), comment_arg()
        elif request.mimetype in ("application/json", ""):
            try:
                body = msgspec.json.decode(text)
            except msgspec.DecodeError as exc:
                raise ApiError(400, f"body is not JSON: {exc}") from None
            items = body.get("entries") if isinstance(body, dict) else body
            entries, comment = entries_from_json(items, lists.max_entries), comment_arg(body)
        else:
            raise ApiError(415, "send application/json {entries: [...]} or text/csv value,expires_at,note")
        info = lists.put(name, entries, author, comment)
        return answer(200, name=info.name, count=info.count, version=info.version)

    @handled
    def delete_list(name: str) -> Response:
        author = writer()
        try:
            lists.delete(check_name(name), author, comment_arg())
        except ListInUse as exc:
            raise ApiError(409, str(exc), used_by=exc.users) from None
        return answer(200, deleted=name)

    @handled
    def list_audit(name: str) -> Response:
        check_name(name)
        limit = request.args.get("limit", "50")
        if not limit.isdecimal() or len(limit) > 5:
            raise ApiError(400, "limit must be a whole number")
        return jsonify(audit=lists.audit(int(limit), name=name))

    server.add_url_rule("/api/lists", "api_lists", all_lists, methods=["GET"])
    server.add_url_rule("/api/lists/<name>", "api_list_get", get_list, methods=["GET"])
    server.add_url_rule("/api/lists/<name>", "api_list_put", put_list, methods=["PUT"])
    server.add_url_rule("/api/lists/<name>", "api_list_delete", delete_list, methods=["DELETE"])
    server.add_url_rule("/api/lists/<name>/audit", "api_list_audit", list_audit, methods=["GET"])
