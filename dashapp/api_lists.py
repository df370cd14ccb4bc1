"""Lists API: GET /api/lists, GET/PUT/DELETE /api/lists/<name> (JSON or text/csv) and one entry, audit."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from flask import Flask, Response, jsonify, request, stream_with_context

from dashapp.api_common import ApiError
from dashapp.api_rules import answer, body_text, comment_arg, handled, writer
from dashapp.store.list_csv import csv_chunks, entries_from_csv
from dashapp.store.list_entries import (
    ListInUse,
    check_name,
    check_value,
    entries_from_json,
    entry,
    entry_json,
)
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
    _install_entry_routes(server, lists)


def _install_entry_routes(server: Flask, lists: ListStore) -> None:
    """GET, PUT (add or update; admins) and DELETE (admins) /api/lists/<name>/entries/<value>."""

    @handled
    def get_entry(name: str, value: str) -> Response:
        found = lists.entry(check_name(name), _value(value))
        if found is None:
            raise ApiError(404, f"{value!r:.60} is not in list {name!r}")
        body = entry_json(value, found)
        now_ms = int(time.time() * 1000)
        return jsonify(name=name, **body, member=found.expires_ms is None or now_ms < found.expires_ms)

    @handled
    def put_entry(name: str, value: str) -> Response:
        author = writer()
        check_name(name)
        body = _json_body()
        unknown = sorted(set(body) - {"expires_at", "note", "comment"})
        if unknown:
            raise ApiError(400, f"unknown field {unknown[0]!r:.40}; known: expires_at, note, comment")
        item = entry("entry", _value(value), body.get("expires_at"), body.get("note"))
        lists.info(name)  # one entry goes into an existing list; PUT /api/lists/<name> creates one
        info = lists.add(name, [item], author, comment_arg(body))
        return answer(200, name=name, value=item.value, count=info.count, version=info.version)

    @handled
    def delete_entry(name: str, value: str) -> Response:
        author = writer()
        check_name(name)
        if lists.entry(name, _value(value)) is None:
            raise ApiError(404, f"{value!r:.60} is not in list {name!r}")
        info = lists.remove(name, [value], author, comment_arg())
        return answer(200, name=name, removed=value, count=info.count, version=info.version)

    entry_url = "/api/lists/<name>/entries/<path:value>"  # a value may hold a slash
    server.add_url_rule(entry_url, "api_list_entry_get", get_entry, methods=["GET"])
    server.add_url_rule(entry_url, "api_list_entry_put", put_entry, methods=["PUT"])
    server.add_url_rule(entry_url, "api_list_entry_delete", delete_entry, methods=["DELETE"])


def _value(raw: str) -> str:
    """The entry's value from the URL, checked as an imported value would be (no silent trimming)."""
    value = check_value("value", raw)
    if value != raw:
        raise ApiError(400, "value: leading or trailing spaces are not part of a value", path="value")
    return value


def _json_body() -> dict[str, Any]:
    """The optional JSON body of a single-entry write: {expires_at, note, comment}."""
    text = body_text()
    if not text.strip():
        return {}
    if request.mimetype not in ("application/json", ""):
        raise ApiError(415, "send application/json {expires_at, note, comment} or no body")
    try:
        body = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object {expires_at, note, comment}")
    return body
