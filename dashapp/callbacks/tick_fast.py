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


def _escaped(body: bytes) -> bytes:
    for raw, safe in _ESCAPES:
        if raw in body:
            body = body.replace(raw, safe)
    return body


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class FragmentCache:
    """The serialised, escaped JSON of values shared by many tabs, made once per value object.

    Within a frame every tab polling a worker gets the very same built objects (dashapp.frames), so
    their JSON is made once and reused by identity; serialising ~20 KB per poll was a sixth of the
    dashboard's CPU. Entries keep their object alive, so an id cannot be reused while it is cached;
    the cache is emptied when full, which drops the values of past frames with the current ones.
    Shared values are never mutated after they are built.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._items: dict[int, tuple[Any, orjson.Fragment]] = {}

    def fragment(self, value: Any) -> orjson.Fragment:
        """The JSON of `value` as an orjson fragment (made on the first request for this object)."""
        hit = self._items.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        made = orjson.Fragment(_escaped(_dumps(value)))
        if len(self._items) >= self.max_entries:
            self._items = {}  # swapped, not cleared: a thread reading the old dict is unaffected
        self._items[id(value)] = (value, made)
        return made


def answer(
    result: dict[str, Any] | None,
    outputs: list[tuple[str, str, str]],
    fragments: FragmentCache | None = None,
    shared: frozenset[str] = frozenset(),
) -> bytes:
    """The callback answer for named results, as Dash builds it (absent names are no_update).

    With `fragments`, the results named in `shared` (values built once per frame for every tab) are
    serialised through the cache.
    """
    response: dict[str, dict[str, Any]] = {}
    if result:
        for name, elem, prop in outputs:
            if name in result:
                value = result[name]
                if fragments is not None and name in shared and isinstance(value, dict | list):
                    value = fragments.fragment(value)
                response.setdefault(elem, {})[prop] = value
    return _escaped(_dumps({"multi": True, "response": response}))


class TickAnswer:
    """Makes the answer of tick results; the results named in `shared` go through one FragmentCache."""

    def __init__(self, outputs: list[tuple[str, str, str]], shared: frozenset[str] = frozenset()) -> None:
        self.outputs, self.shared, self.fragments = outputs, shared, FragmentCache()

    def __call__(self, result: dict[str, Any] | None) -> bytes:
        return answer(result, self.outputs, self.fragments, self.shared)


def install_tick_fast_path(server: Flask, output: str, make_answer: TickAnswer, tick: Tick) -> None:
    """Answer POSTs for the callback `output` (Dash's output string) with `tick(view, prev, view_changed)`.

    Must be installed after the access guard and the callback body check (before_request order).
    """

    def fast() -> Response | None:
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        body = request.get_json(silent=True)  # already parsed (and checked) by dashapp.security
        if not isinstance(body, dict) or body.get("output") != output:
            return None
        return Response(make_answer(tick(*tick_args(body))), mimetype="application/json")

    server.before_request(fast)
