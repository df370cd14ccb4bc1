"""Cursor reads of the txns and alerts streams: no gaps, no duplicates, garbage skipped."""

from __future__ import annotations

import pytest

from dashapp.store import DashboardReader
from tests.test_store_fixtures import make_alert, put_alert, put_txns, txn_payload

pytestmark = pytest.mark.integration


@pytest.fixture
def reader(redis_client, keys) -> DashboardReader:
    return DashboardReader(redis_client, keys)


def test_first_call_returns_newest_oldest_first(reader, redis_client, keys):
    ids = put_txns(redis_client, keys, range(10))
    rows, cursor = reader.txns_since(None, 4)
    assert [r.txn_id for r in rows] == ["txn-6", "txn-7", "txn-8", "txn-9"]
    assert [r.entry_id for r in rows] == ids[6:]
    assert cursor == ids[-1]
    assert rows[0].city == "Lyon" and rows[0].amount == 16.0 and rows[0].channel == "pos"


def test_successive_calls_have_no_gap_and_no_duplicates(reader, redis_client, keys):
    put_txns(redis_client, keys, range(3))
    seen, cursor = reader.txns_since(None, 100)
    for batch in (range(3, 8), range(8, 9), range(9, 30)):
        put_txns(redis_client, keys, batch)
        while True:  # small pages: the backlog is read across several calls, in order
            rows, cursor = reader.txns_since(cursor, 4)
            if not rows:
                break
            seen += rows
    assert [r.txn_id for r in seen] == [f"txn-{n}" for n in range(30)]
    rows, same = reader.txns_since(cursor, 4)
    assert rows == [] and same == cursor


def test_trimmed_entries_neither_break_the_cursor_nor_repeat(reader, redis_client, keys):
    put_txns(redis_client, keys, range(5))
    first, cursor = reader.txns_since(None, 2)
    put_txns(redis_client, keys, range(5, 20))
    redis_client.xtrim(keys.txns, maxlen=6, approximate=False)  # the cursor entry itself is gone
    rows, cursor = reader.txns_since(cursor, 100)
    assert [r.txn_id for r in rows] == [f"txn-{n}" for n in range(14, 20)]
    assert not {r.entry_id for r in rows} & {r.entry_id for r in first}


def test_tail_skips_a_backlog(reader, redis_client, keys):
    _, cursor = reader.txns_since(None, 10)
    assert cursor == "0-0"  # empty stream: everything later is new
    put_txns(redis_client, keys, range(50))
    rows, _ = reader.txns_since(cursor, 5, tail=True)
    assert [r.txn_id for r in rows] == [f"txn-{n}" for n in range(45, 50)]


def test_garbage_entries_are_skipped_but_passed(reader, redis_client, keys, caplog):
    put_txns(redis_client, keys, range(2))
    redis_client.xadd(keys.txns, {"d": b"{not json"})
    redis_client.xadd(keys.txns, {"other": b"x"})
    redis_client.xadd(keys.txns, {"d": b'{"txn_id": "no-ts"}'})
    last = redis_client.xadd(keys.txns, {"d": txn_payload(2)}).decode()
    rows, cursor = reader.txns_since("0-0", 100)
    assert [r.txn_id for r in rows] == ["txn-0", "txn-1", "txn-2"]
    assert cursor == last
    assert caplog.text.count("undecodable entry skipped") == 3
    garbage_only = redis_client.xadd(keys.txns, {"d": b"[]"}).decode()
    assert reader.txns_since(cursor, 10) == ([], garbage_only)


@pytest.mark.parametrize("cursor", ["", "abc", "(0-0", "1-2-3", "0-0; FLUSHALL"])
def test_untrusted_cursor_is_treated_as_first_call(reader, redis_client, keys, cursor):
    put_txns(redis_client, keys, range(3))
    rows, _ = reader.txns_since(cursor, 2)
    assert [r.txn_id for r in rows] == ["txn-1", "txn-2"]


def test_alerts_since_decodes_alerts(reader, redis_client, keys):
    alerts = [make_alert(n, rules=("velocity", "high_amount")) for n in range(3)]
    for a in alerts[:2]:
        put_alert(redis_client, keys, a)
    got, cursor = reader.alerts_since(None, 10)
    assert got == alerts[:2]
    redis_client.xadd(keys.alerts, {"d": b'{"alert_id": 1}'})
    put_alert(redis_client, keys, alerts[2])
    got, cursor2 = reader.alerts_since(cursor, 10)
    assert got == alerts[2:] and cursor2 != cursor
