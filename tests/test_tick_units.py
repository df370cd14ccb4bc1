"""The live tick's pure parts: the query it accepts, the answer it sends, the bench's poller."""

from __future__ import annotations

import json
from urllib.parse import quote

import orjson
import pytest

from dashapp.tick.answer import KEYS, OUTPUTS, FragmentCache, answer_body
from dashapp.tick.query import MAX_QUERY, BadTick, TickQuery, parse_tick_query


def test_a_fresh_poll_and_a_poll_with_cursors_parse() -> None:
    assert parse_tick_query(b"") == TickQuery()
    cursors = {"seq": 7, "txn": "1-0", "paused": False}
    raw = f"window=15&paused=1&view=1&since={quote(json.dumps(cursors))}&_=123".encode()
    query = parse_tick_query(raw)
    assert query == TickQuery(since=cursors, window_min=15, paused=True, view_changed=True)
    assert query.view == {"window_min": 15, "paused": True}
    assert parse_tick_query(b"since=&paused=false").since is None  # an empty cursor: a fresh page


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"window=7", "window must be one of 5, 15, 60"),
        (b"window=", "window must be one of"),
        (b"window=-5", "window must be one of"),
        (b"paused=yes", "paused must be 0 or 1"),
        (b"view=2", "view must be 0 or 1"),
        (b"since=%7Bnot%20json", "since is not the cursor object"),
        (b"since=%5B1%2C2%5D", "since is not the cursor object"),  # JSON, but not an object
        (b"since=" + b"%5B" * 2000 + b"%5D" * 2000, "query string too long"),
        (b"window=5&window=15", "window given twice"),
        (b"since=%ff%fe", "malformed query string"),  # not UTF-8 once decoded
        ("window=5&x=\u00e9".encode(), "malformed query string"),  # raw non-ASCII bytes
        (b"&".join(b"a%d=1" % i for i in range(20)), "malformed query string"),  # too many fields
    ],
)
def test_malformed_polls_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadTick, match=reason):
        parse_tick_query(raw)


def test_the_longest_accepted_query_is_far_above_real_cursors() -> None:
    real = {"seq": 10**9, "txn": "1790000000000-99", "alert": "1790000000000-99", "sec": 1790000000}
    real |= {f"d_{n}": "0123456789abcdef" for n in ("kpis", "quality", "rules_fig", "map_fig")}
    raw = f"window=5&paused=0&view=0&since={quote(json.dumps(real))}".encode()
    assert len(raw) * 5 < MAX_QUERY and parse_tick_query(raw).since == real


def test_answer_keys_name_page_properties_and_skip_unknown_results() -> None:
    result = {"kpi_tps": "12 tx/s", "state": {"seq": 3}, "not_a_result": 1}
    body = orjson.loads(answer_body(result))
    assert body == {"kpi-tps.children": "12 tx/s", "tick-state.data": {"seq": 3}}
    assert len(set(KEYS.values())) == len(OUTPUTS)  # one result per page property


def test_shared_values_are_serialised_once_and_answer_byte_identically() -> None:
    shared = {"text": "</script> 900 km/h \u2028", "points": [1.5, 2, None]}
    cache = FragmentCache()
    for tab_state in ({"txn": "1-0"}, {"txn": "2-0"}):  # two tabs, one shared value object
        result = {"kpi_tps": "12 tx/s", "timeline_ext": shared, "state": tab_state}
        assert answer_body(result, cache) == answer_body(result)  # exactly the answer without the cache
    first = cache.fragment(shared)
    assert cache.fragment(shared) is first  # the same object: its JSON is made once
    assert cache.fragment(dict(shared)) is not first  # another object is serialised on its own
    small = FragmentCache(max_entries=2)
    for i in range(3):  # past the bound: the cache starts over and stays correct
        value = {"i": i}
        assert answer_body({"grid_tx": value}, small) == answer_body({"grid_tx": value})


def test_load_generator_feeds_cursors_back_from_raw_answers() -> None:
    from bench.tick_client import TickPoller

    poller = TickPoller()
    assert "since" not in poller.target()  # a fresh page
    assert poller.apply_raw(204, b"") is False
    answer = b'{"kpi-tps.children":"\\"tick-state.data\\":1","tick-state.data":{"seq":7,"txn":"1-0"}}'
    assert poller.apply_raw(200, answer) is True and poller.since == {"seq": 7, "txn": "1-0"}
    assert parse_tick_query(poller.target().split("?", 1)[1].encode()).since == {"seq": 7, "txn": "1-0"}
    for bad in (b"<html>proxy error</html>", b'{"kpi-tps.children":"1"}', b'{"tick-state.data":[1]}'):
        with pytest.raises(ValueError):
            poller.apply_raw(200, bad)
