"""The live tick's answer: which page property each tick result updates, and its JSON body."""

from __future__ import annotations

from typing import Any

import orjson

from dashapp.views.kpis import KPI_CARDS

# (result name of dashapp.tick.build.run_tick, component id, property): the page properties one
# clientside callback (dashapp.tick.page, assets/tick.js) updates from an answer
OUTPUTS: list[tuple[str, str, str]] = [
    *((f"kpi_{name}", elem_id, "children") for name, elem_id, _ in KPI_CARDS),
    ("timeline_fig", "timeline-graph", "figure"),
    ("timeline_ext", "timeline-graph", "extendData"),
    ("tp_fig", "throughput-graph", "figure"),
    ("tp_ext", "throughput-graph", "extendData"),
    ("rules_fig", "rules-graph", "figure"),
    ("map_fig", "city-map", "figure"),
    ("grid_rows", "alerts-grid", "rowData"),
    ("grid_tx", "alerts-grid", "rowTransaction"),
    ("banner", "banner-data", "data"),  # rendered in the browser (assets/app.js bannerShow)
    ("banner_class", "red-alert-banner", "className"),
    ("banner_count", "banner-count-store", "data"),
    ("health", "health-panel", "children"),
    ("quality", "quality-panel", "children"),
    ("fresh", "freshness-store", "data"),
    ("state", "tick-state", "data"),  # the cursors: the page sends them back as `since`
]
# answer keys: "<component id>.<property>", as Dash names a property in a callback's outputs
KEYS = {name: f"{elem}.{prop}" for name, elem, prop in OUTPUTS}
# results built once per frame (or period) and given as the same objects to every tab (build.py)
SHARED = frozenset(
    {"timeline_fig", "timeline_ext", "tp_fig", "tp_ext", "rules_fig", "map_fig", "grid_rows", "grid_tx"}
    | {"banner", "health", "quality"}
)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class FragmentCache:
    """The JSON of values shared by many tabs, made once per value object.

    Within a frame every tab polling a worker gets the very same built objects (dashapp.tick.frames),
    so their JSON is made once and reused by identity; serialising ~20 KB per poll was a sixth of the
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
        made = orjson.Fragment(_dumps(value))
        if len(self._items) >= self.max_entries:
            self._items = {}  # swapped, not cleared: a thread reading the old dict is unaffected
        self._items[id(value)] = (value, made)
        return made


def answer_body(result: dict[str, Any], fragments: FragmentCache | None = None) -> bytes:
    """The JSON object of a tick's results, keyed by the page property each one updates.

    Results the tick did not send are absent (the page keeps what it shows). With `fragments`, the
    shared results are serialised through the cache.
    """
    body: dict[str, Any] = {}
    for name, value in result.items():
        key = KEYS.get(name)
        if key is None:
            continue
        shared = fragments is not None and name in SHARED and isinstance(value, dict | list)
        body[key] = fragments.fragment(value) if shared and fragments is not None else value
    return _dumps(body)
