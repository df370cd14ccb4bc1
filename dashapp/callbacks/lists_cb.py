"""Lists tab: pick a list, page its entries, add/remove/import (admins, checked here), export, audit."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, no_update

from dashapp.callbacks.rule_access import admin_or_403, clicked_id, is_admin, user_or_401
from dashapp.store.errors import StoreError
from dashapp.store.list_csv import csv_chunks, entries_from_csv
from dashapp.store.list_entries import entries_from_json, format_expiry
from dashapp.store.lists import ListStore
from dashapp.views.lists_view import PAGE_ENTRIES, REMOVE, audit_table, entries_table, list_options

logger = logging.getLogger(__name__)
AUDIT_ROWS = 50


def decode_upload(contents: Any) -> str:
    """The text of a dcc.Upload data URL (UTF-8); ValueError with the reason otherwise."""
    if not isinstance(contents, str) or "," not in contents:
        raise ValueError("no file received")
    head, data = contents.split(",", 1)
    if ";base64" not in head:
        raise ValueError("the upload was not base64-encoded")
    try:
        return base64.b64decode(data, validate=True).decode("utf-8-sig")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("the file is not UTF-8 text") from None


def list_write(store: ListStore, trigger: Any, name: Any, form: dict[str, Any], user: str) -> str:
    """Apply one list change as `user`; return what happened (StoreError/ValueError: refused)."""
    if trigger == "lst-create":
        new = str(form.get("new") or "").strip()
        store.put(new, [], user, "created in the dashboard")
        return f"Created list {new}."
    if not isinstance(name, str) or not name:
        raise ValueError("pick a list first")
    if trigger == "lst-add":
        item = {
            "value": form.get("value") or "",
            "expires_at": form.get("expires") or None,
            "note": form.get("note") or "",
        }
        (entry,) = entries_from_json([item], 1)
        info = store.add(name, [entry], user)
        return f"Added {entry.value} to {name} ({info.count:,} entries)."
    if trigger == "lst-upload":
        entries = entries_from_csv(decode_upload(form.get("upload")), store.max_entries)
        info = store.add(name, entries, user, f"CSV import {str(form.get('filename') or '')[:80]}".strip())
        return f"Imported {len(entries):,} entries into {name} ({info.count:,} entries)."
    if isinstance(trigger, dict) and trigger.get("type") == REMOVE:
        value = str(trigger.get("value"))
        info = store.remove(name, [value], user)
        return f"Removed {value} from {name} ({info.count:,} entries)."
    raise ValueError("nothing to do")


def register_lists(app: Dash, store: ListStore) -> None:
    """Register the Lists tab's callbacks."""

    @app.callback(
        Output("lst-name", "options"),
        Output("lst-name", "value"),
        Output("lst-audit", "children"),
        Input("lst-changed", "data"),
        State("lst-name", "value"),
    )
    def lists_load(_changed: Any, current: Any) -> tuple[Any, ...]:
        user_or_401()
        infos = store.infos()
        names = [i.name for i in infos]
        keep = current if current in names else (names[0] if names else None)
        return list_options(infos), keep, audit_table(store.audit(AUDIT_ROWS))

    @app.callback(
        Output("lst-entries", "children"),
        Output("lst-page-label", "children"),
        Output("lst-page", "data"),
        Input("lst-name", "value"),
        Input("lst-filter", "value"),
        Input("lst-prev", "n_clicks"),
        Input("lst-next", "n_clicks"),
        Input("lst-changed", "data"),
        State("lst-page", "data"),
    )
    def lists_page(name: Any, contains: Any, _p: Any, _n: Any, _c: Any, page: Any) -> tuple[Any, ...]:
        user_or_401()
        if not isinstance(name, str) or not name:
            return entries_table([], False, format_expiry), "", 0
        page = page if isinstance(page, int) and not isinstance(page, bool) else 0
        step = {"lst-prev": -1, "lst-next": 1}.get(str(clicked_id()), 0)
        page = page + step if step else (page if ctx.triggered_id == "lst-changed" else 0)
        needle = contains if isinstance(contains, str) else ""
        try:  # one page read from the list's order index: O(page), not the whole list
            shown, page, total = store.page(name, page, PAGE_ENTRIES, needle)
        except StoreError as exc:
            return entries_table([], False, format_expiry), str(exc), 0
        last = max(1, -(-total // PAGE_ENTRIES))
        label = f"page {page + 1:,} of {last:,} \u2013 {total:,} entr{'y' if total == 1 else 'ies'}"
        return entries_table(shown, is_admin(), format_expiry), label, page

    @app.callback(
        Output("lst-message", "children"),
        Output("lst-message", "className"),
        Output("lst-changed", "data"),
        Output("lst-upload", "contents"),
        Output("lst-name", "value", allow_duplicate=True),
        Input("lst-add", "n_clicks"),
        Input("lst-create", "n_clicks"),
        Input({"type": REMOVE, "value": ALL}, "n_clicks"),
        Input("lst-upload", "contents"),
        State("lst-name", "value"),
        State("lst-new", "value"),
        State("lst-value", "value"),
        State("lst-expires", "value"),
        State("lst-note", "value"),
        State("lst-upload", "filename"),
        State("lst-changed", "data"),
        prevent_initial_call=True,
    )
    def lists_write(_add: Any, _create: Any, _removes: Any, upload: Any, *states: Any) -> tuple[Any, ...]:
        name, new, value, expires, note, filename, changed = states
        trigger = clicked_id()  # an upload's contents count as a click
        if trigger is None:
            return no_update, no_update, no_update, no_update, no_update  # a button appearing, not a click
        user = user_or_401()
        admin_or_403(user, "list change")
        form = {
            "new": new,
            "value": value,
            "expires": expires,
            "note": note,
            "upload": upload,
            "filename": filename,
        }
        bump = (changed if isinstance(changed, int) else 0) + 1
        try:
            text = list_write(store, trigger, name, form, user)
        except (StoreError, ValueError) as exc:
            return f"Not changed: {exc}", "message error", no_update, None, no_update
        logger.info("dashapp.lists: %s by=%s", text, user)
        pick = str(new).strip() if trigger == "lst-create" else no_update
        return text, "message ok", bump, None, pick

    @app.callback(
        Output("lst-download", "data"),
        Input("lst-export", "n_clicks"),
        State("lst-name", "value"),
        prevent_initial_call=True,
    )
    def lists_export(_n: Any, name: Any) -> Any:
        user_or_401()
        if not isinstance(name, str) or not name:
            return no_update
        try:
            text = "".join(csv_chunks(store.iter_entries(name)))
        except StoreError:
            return no_update
        return dcc.send_string(text, f"{name}.csv", type="text/csv")
