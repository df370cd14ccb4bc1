"""HTTP: /api/alerts filters, /api/alerts.csv export (numbers, injection), retention report (Flask client)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from bridge.alert_writes import alert_commands
from bridge.retention import DAY_MS, AlertRetention
from bridge.sink import RedisSink
from common.alerts import Alert
from dashapp.app import create_app
from dashapp.auth.users import add_user
from dashapp.settings import DashSettings
from dashapp.store import AlertWorkflow
from dashapp.store.alert_rows import row_from_alert
from dashapp.views.alerts_csv import COLUMNS, csv_cells, safe_text
from tests.sink_support import commit
from tests.test_store_fixtures import BASE_MS, make_alert

pytestmark = pytest.mark.integration

PASSWORD = "ann-password-1"
HOSTILE = ('=HYPERLINK("http://x","y")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1", "-2+3", "\tx", "\rx")


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api") / "users.json"
    add_user(path, "ann", "analyst", PASSWORD)
    return path


@pytest.fixture
def http(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[Any]:
    settings = DashSettings(
        redis_key_prefix=redis_prefix, dash_secret_key="k" * 32, dash_users_file=str(users_file)
    )
    yield create_app(settings, redis_client).server.test_client()


def auth() -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"ann:{PASSWORD}".encode()).decode()}


def write(redis_client: redis.Redis, keys: Any, alerts: list[Alert]) -> None:
    commit(RedisSink(redis_client, keys, "t"), alert_commands(keys, alerts, now_ms=BASE_MS), {})


def hostile_alerts() -> list[Alert]:
    out = []
    for n, text in enumerate(HOSTILE):
        a = make_alert(n)
        out.append(
            msgspec.structs.replace(a, merchant_id=text, city=text, amount=11459.99 + n, card_id="c-x")
        )
    return out


def test_csv_export_has_numbers_as_numbers_and_neutralised_cells(http, redis_client, keys) -> None:
    alerts = hostile_alerts()
    write(redis_client, keys, alerts)
    AlertWorkflow(redis_client, keys).act(alerts[0].alert_id, "acknowledge", "ann", 1, note="=1+1 checked")
    resp = http.get("/api/alerts.csv?card=c-x&order=oldest", headers=auth())
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert len(table) == len(HOSTILE) and tuple(table[0]) == COLUMNS
    for row, alert, text in zip(table, alerts, HOSTILE, strict=True):
        assert row["alert_id"] == alert.alert_id and row["currency"] == "EUR"
        assert float(row["amount"]) == alert.amount and row["amount"] == repr(
            alert.amount
        )  # not "$11,459.99"
        assert row["merchant_id"] == row["city"] == "'" + text
        assert row["reasons"] == "high_amount fired" and row["status"] in ("new", "acknowledged")
    assert (table[0]["status"], table[0]["assignee"], table[0]["note"]) == (
        "acknowledged",
        "",
        "'=1+1 checked",
    )


def test_csv_export_streams_every_match_not_a_page(http, redis_client, keys) -> None:
    alerts = [msgspec.structs.replace(make_alert(n), card_id="c-many") for n in range(1_234)]
    write(redis_client, keys, alerts)
    body = http.get("/api/alerts.csv?card=c-many&limit=5", headers=auth()).get_data(as_text=True)
    ids = [r["alert_id"] for r in csv.DictReader(io.StringIO(body))]
    assert len(ids) == 1_234 and set(ids) == {a.alert_id for a in alerts}


def test_api_filters_and_totals(http, redis_client, keys) -> None:
    alerts = [make_alert(n, rules=("velocity",) if n % 2 else ("high_amount",)) for n in range(40)]
    write(redis_client, keys, alerts)
    AlertWorkflow(redis_client, keys).act(alerts[3].alert_id, "assign_to_me", "ann", 1)
    body = http.get("/api/alerts?rule=velocity&limit=5&order=oldest", headers=auth()).get_json()
    assert body["total"] == 20 and body["count"] == 5 and body["exact"]
    assert [a["alert_id"] for a in body["alerts"]] == [alerts[n].alert_id for n in (1, 3, 5, 7, 9)]
    mine = http.get("/api/alerts?assignee=ann&status=assigned", headers=auth()).get_json()
    assert [a["alert_id"] for a in mine["alerts"]] == [alerts[3].alert_id]
    window = f"since={BASE_MS + 10_000}&until={BASE_MS + 19_000}&card=card-3"
    found = http.get(f"/api/alerts?{window}", headers=auth()).get_json()["alerts"]
    assert [a["alert_id"] for a in found] == [alerts[n].alert_id for n in (17, 10)]


@pytest.mark.parametrize(
    "query", ["status=bogus", "since=x", "limit=0", "alert_id=a:b", "frobnicate=1", "card=" + "x" * 300]
)
@pytest.mark.parametrize("path", ["/api/alerts", "/api/alerts.csv"])
def test_bad_filters_are_400_with_a_message(http, path: str, query: str) -> None:
    resp = http.get(f"{path}?{query}", headers=auth())
    assert resp.status_code == 400 and resp.get_json()["error"]


def test_export_needs_a_login(http) -> None:
    assert http.get("/api/alerts.csv").status_code == 401


def test_retention_report_counts_open_alerts_kept_past_the_retention(http, redis_client, keys) -> None:
    assert http.get("/api/alerts/retention", headers=auth()).get_json()["days"] is None  # no sweep yet
    write(redis_client, keys, [make_alert(1), make_alert(2)])
    AlertRetention(redis_client, keys, days=1).sweep(BASE_MS + 2 * DAY_MS)
    body = http.get("/api/alerts/retention", headers=auth()).get_json()
    assert body["days"] == 1 and body["kept_unresolved"] == 2 and body["swept"] == 0


def test_csv_cells_pure() -> None:
    row = row_from_alert(make_alert(1), note="-cmd", assignee="@bob")
    cells = dict(zip(COLUMNS, csv_cells(row), strict=True))
    assert cells["amount"] == 101.0 and cells["score"] == 0.9 and cells["event_ms"] == BASE_MS + 1000
    assert cells["note"] == "'-cmd" and cells["assignee"] == "'@bob" and cells["time_utc"].endswith("+00:00")
    assert [safe_text(t) for t in ("ok", "a=b", "")] == ["ok", "a=b", ""]
