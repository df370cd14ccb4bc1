"""HTTP: /api/backtests on the real app and a real worker: roles, CSRF, validation, result, export."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import yaml

from tests.streams import generated, produce
from tests.test_backtest import Worker, plant, planted_draft, worker
from tests.test_rules_registry_api import PASSWORDS, auth, http, users_file

pytestmark = pytest.mark.integration
__all__ = ["http", "users_file", "worker"]  # fixtures shared with the modules they come from


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def test_an_admin_runs_a_backtest_and_everyone_reads_and_exports_it(
    http: Any, worker: Worker, kafka_bootstrap: str, topic: str
) -> None:
    records, planted = plant(generated(800, seed=4), every=40)
    start = int(time.time() * 1000) - 2_000
    produce(kafka_bootstrap, topic, records)
    body = {"draft": planted_draft(), "from": iso(start), "to": iso(int(time.time() * 1000) + 2_000)}
    assert http.post("/api/backtests", json=body).status_code == 401
    assert http.post("/api/backtests", json=body, headers=auth("ann")).status_code == 403
    resp = http.post("/api/backtests", json=body, headers=auth())
    assert resp.status_code == 202, resp.get_json()
    run_id = resp.get_json()["id"]
    assert resp.headers["Location"] == f"/api/backtests/{run_id}"
    worker.finished(run_id)

    got = http.get(f"/api/backtests/{run_id}", headers=auth("ann")).get_json()
    assert got["run"]["status"] == "done" and got["run"]["by"] == "root" and "draft" not in got["run"]["spec"]
    planted_row = next(r for r in got["result"]["rules"] if r["rule"] == "planted_merchant")
    assert planted_row["draft"]["alerts"] == planted_row["added"] == len(planted)
    assert [r["id"] for r in http.get("/api/backtests", headers=auth("ann")).get_json()["runs"]] == [run_id]
    csv = http.get(f"/api/backtests/{run_id}/export?format=csv", headers=auth("ann"))
    assert csv.mimetype == "text/csv"
    line = next(x for x in csv.get_data(as_text=True).splitlines() if x.startswith("planted_merchant,"))
    assert line.split(",")[1:4] == [str(len(planted)), "0", "0"]
    exported = http.get(f"/api/backtests/{run_id}/export?format=json", headers=auth("ann")).get_json()
    assert exported["result"]["rules"] == got["result"]["rules"]
    assert http.get(f"/api/backtests/{run_id}/export?format=xls", headers=auth()).status_code == 400

    assert http.delete(f"/api/backtests/{run_id}", headers=auth("ann")).status_code == 403
    assert http.delete(f"/api/backtests/{run_id}", headers=auth()).get_json() == {"deleted": True}
    assert http.get(f"/api/backtests/{run_id}", headers=auth()).status_code == 404


def test_bad_drafts_and_ranges_are_refused_and_nothing_is_queued(http: Any, worker: Worker) -> None:
    worker.stop()
    doc = planted_draft()
    doc["rules"][-1]["when"]["value"] = 5  # merchant_id compares with text
    resp = http.post("/api/backtests", json={"draft": doc}, headers=auth())
    assert resp.status_code == 400 and resp.get_json()["path"].startswith("rules[7].when")
    for body in (
        {"draft": planted_draft(), "from": "yesterday"}, {"nodraft": 1}, [1, 2],
        {"draft": planted_draft(), "model": "no-such-version"}, {"draft": planted_draft(), "model": ["x"]},
    ):  # fmt: skip
        assert http.post("/api/backtests", json=body, headers=auth()).status_code == 400, body
    unknown = http.post("/api/backtests?model=v0", data=yaml.safe_dump(planted_draft()),
                        content_type="application/yaml", headers=auth())  # fmt: skip
    assert unknown.status_code == 400 and "no model version 'v0'" in unknown.get_json()["error"]
    backwards = {"draft": planted_draft(), "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    assert http.post("/api/backtests", json=backwards, headers=auth()).status_code == 400
    assert http.get("/api/backtests", headers=auth()).get_json() == {"runs": []}
    assert http.get("/api/backtests/nope!", headers=auth()).status_code == 404
    as_yaml = yaml.safe_dump(planted_draft())
    resp = http.post("/api/backtests", data=as_yaml, content_type="application/yaml", headers=auth())
    assert resp.status_code == 202
    run_id = resp.get_json()["id"]
    assert http.post(f"/api/backtests/{run_id}/cancel", headers=auth("ann")).status_code == 403
    assert http.post(f"/api/backtests/{run_id}/cancel", headers=auth()).get_json() == {"status": "cancelled"}


def test_a_session_needs_the_pages_token_to_start_a_backtest(http: Any, worker: Worker) -> None:
    worker.stop()
    page = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"username": "root", "password": PASSWORDS["root"], "csrf_token": token, "next": "/"}
    assert http.post("/login", data=form).status_code == 303
    body = {"draft": planted_draft()}
    assert http.post("/api/backtests", json=body).status_code == 403  # the cookie alone is not enough
    page = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert http.post("/api/backtests", json=body, headers={"X-CSRF-Token": token}).status_code == 202
