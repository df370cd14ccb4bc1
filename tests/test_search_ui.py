"""The alert search section: pure views, and its callback logic against real Redis."""

from __future__ import annotations

import time

import msgspec
import pytest
from werkzeug.exceptions import BadRequest

from bridge.alert_writes import alert_commands
from bridge.sink import RedisSink
from dashapp.callbacks.search_cb import SearchCallbacks
from dashapp.layout_search import search_section
from dashapp.store import AlertWorkflow
from dashapp.store.alert_rows import row_from_alert
from dashapp.store.search import AlertSearch, SearchResult
from dashapp.store.search_query import AlertQuery, my_queue
from dashapp.views.search import age_text, export_href, form_args, is_overdue, search_row, summary_text
from tests.sink_support import commit
from tests.test_store_fixtures import BASE_MS, make_alert

MIN = 60_000


def test_age_and_overdue_against_the_sla() -> None:
    assert [age_text(ms) for ms in (5_000, 12 * MIN, 185 * MIN, 50 * 60 * MIN)] == [
        "5 s", "12 min", "3 h 05 min", "2 d 02 h",
    ]  # fmt: skip
    row = row_from_alert(make_alert(1, event_ms=BASE_MS))
    assert is_overdue(row, BASE_MS + 31 * MIN, 30 * MIN) and not is_overdue(row, BASE_MS + 29 * MIN, 30 * MIN)
    resolved = row_from_alert(make_alert(1, event_ms=BASE_MS), status="resolved_fraud")
    assert not is_overdue(resolved, BASE_MS + 99 * MIN, 30 * MIN)
    cells = search_row(row, BASE_MS + 31 * MIN, 30 * MIN, {"high_amount": "High amount"})
    assert cells["overdue"] and cells["age"] == "31 min" and cells["rules"] == "High amount"
    assert cells["version"] == 1 and cells["amount"] == row.amount


def test_summary_export_link_and_form_args() -> None:
    rows = tuple(row_from_alert(make_alert(n, event_ms=BASE_MS)) for n in range(3))
    text = summary_text(SearchResult(rows, 1234, exact=True), AlertQuery(), BASE_MS + 60 * MIN, 30 * MIN)
    assert text.startswith("1,234 matches (showing 1\u20133), 3 overdue")
    assert summary_text(SearchResult((), 0), AlertQuery(), BASE_MS, MIN) == "No alerts match."
    assert export_href(AlertQuery(card="c 1", status="open")) == "/api/alerts.csv?card=c+1&status=open"
    assert form_args({"card": " c1 ", "rule": "", "status": None, "bogus": "x"}) == {"card": "c1"}


def test_section_markup_has_the_form_grid_and_bulk_controls() -> None:
    text = str(search_section())
    for elem in ("search-card", "search-go", "search-my-queue", "search-export", "search-grid", "bulk-apply"):
        assert elem in text


@pytest.mark.integration
def test_search_my_queue_and_bulk_through_the_callback_logic(redis_client, keys) -> None:
    now = int(time.time() * 1000)
    alerts = [
        msgspec.structs.replace(make_alert(n), event_ms=now - (40 - n) * MIN + MIN // 2) for n in range(40)
    ]
    commit(RedisSink(redis_client, keys, "t"), alert_commands(keys, alerts, now_ms=now), {})
    wf = AlertWorkflow(redis_client, keys)
    cb = SearchCallbacks(AlertSearch(redis_client, keys), wf, sla_ms=30 * MIN)
    rows, summary, href, stored, message, _ = cb.run(AlertQuery(status="new", limit=500))
    assert len(rows) == 40 and summary.startswith("40 matches, 10 overdue") and message == ""
    assert href == "/api/alerts.csv?status=new" and stored == {"status": "new"}
    picked = [{"alert_id": r["alert_id"], "version": r["version"]} for r in rows[:3]]
    out = cb.bulk("assign_to_me", "mine", rows=picked, every=[], stored=stored, user="ana")
    assert str(out[0].children) == "3 assigned, 0 conflicts, 0 refused"
    queue = cb.run(my_queue("ana"))[0]
    assert [r["alert_id"] for r in queue] == [p["alert_id"] for p in reversed(picked)]  # oldest first
    out = cb.bulk("acknowledge", "", rows=None, every=["all"], stored=stored, user="bo")
    assert str(out[0].children) == "37 acknowledged, 0 conflicts, 0 refused"
    with pytest.raises(BadRequest):
        cb.bulk("delete_everything", "", rows=picked, every=[], stored=stored, user="bo")
    with pytest.raises(BadRequest):
        cb.bulk("acknowledge", "", rows=[{"alert_id": 1}], every=[], stored=stored, user="bo")
