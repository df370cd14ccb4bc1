"""The tick callback's fast path: the same request and answer as Dash's dispatch, at a third of the CPU.

Hundreds of tabs poll once a second, so Dash's generic dispatch (context set-up, grouping and
validation of 22 outputs, plotly's JSON wrapper) costs more than the tick itself. This before-request
handler answers only the registered tick callback, after the access guard and the body check have
run; it returns exactly what Dash would: `{"multi": true, "response": {id: {prop: value}}}` with the
no_update outputs left out, serialised by orjson with the same HTML-safe escapes as plotly's writer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Flask, Response, request

from dashapp.security import CALLBACK_PATH

# the escapes plotly.io.json applies to every callback answer (safe to embed in HTML)
_ESCAPES: tuple[tuple[bytes, bytes], ...] = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"/", b"\\u002f"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)

Tick = Callable[[Any, Any, bool], "dict[str, Any] | None"]


def _value(items: Any, elem: str, prop: str) -> Any:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("id") == elem and item.get("property") == prop:
            return item.get("value")
    return None


def tick_args(body: dict[str, Any]) -> tuple[Any, Any, bool]:
    """(view, prev, view_changed) of a tick request body, as Dash would pass them to the callback."""
    changed = body.get("changedPropIds") or []
    first = changed[0] if changed and isinstance(changed[0], str) else ""
    view = _value(body.get("inputs"), "view-state", "data")
    prev = _value(body.get("state"), "tick-state", "data")
    return view, prev, first.rsplit(".", 1)[0] == "view-state"


def answer(result: dict[str, Any] | None, outputs: list[tuple[str, str, str]]) -> bytes:
    """The callback answer for named results, as Dash builds it (absent names are no_update)."""
    response: dict[str, dict[str, Any]] = {}
    if result:
        for name, elem, prop in outputs:
            if name in result:
                response.setdefault(elem, {})[prop] = result[name]
    body = orjson.dumps({"multi": True, "response": response}, option=orjson.OPT_NON_STR_KEYS)
    for raw, safe in _ESCAPES:
        if raw in body:
            body = body.replace(raw, safe)
    return body


def install_tick_fast_path(
    server: Flask, output: str, outputs: list[tuple[str, str, str]], tick: Tick
) -> None:
    """Answer POSTs for the callback `output` (Dash's output string) with `tick(view, prev, view_changed)`.

    Must be installed after the access guard and the callback body check (before_request order).
    """

    def fast() -> Response | None:
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        body = request.get_json(silent=True)  # already parsed (and checked) by dashapp.security
        if not isinstance(body, dict) or body.get("output") != output:
            return None
        return Response(answer(tick(*tick_args(body)), outputs), mimetype="application/json")

    server.before_request(fast)
