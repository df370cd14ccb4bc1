"""HTTP: one list entry at a time — GET/PUT/DELETE /api/lists/<name>/entries/<value> on the real app."""

from __future__ import annotations

import re

import pytest

from tests.test_rules_registry_api import PASSWORDS, auth, http, users_file  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration
URL = "/api/lists/deny/entries/"


def test_add_read_update_remove_one_entry_audited(http) -> None:  # noqa: F811
    assert http.put("/api/lists/deny", json={"entries": ["C-1"]}, headers=auth()).status_code == 200
    resp = http.put(URL + "C-2", json={"note": "chargeback", "comment": "case 7"}, headers=auth())
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["count"] == 2
    got = http.get(URL + "C-2", headers=auth("ann")).get_json()
    assert (got["value"], got["note"], got["by"], got["expires_at"], got["member"]) == (
        "C-2", "chargeback", "root", None, True,
    )  # fmt: skip
    resp = http.put(URL + "C-2", json={"expires_at": "2020-01-01"}, headers=auth())  # update: expired
    assert resp.get_json()["count"] == 2
    got = http.get(URL + "C-2", headers=auth("ann")).get_json()
    assert (got["expires_at"], got["member"], got["note"]) == ("2020-01-01T00:00:00Z", False, "")
    slash = http.put(URL + "shop/42", headers=auth())  # a value with a slash, no body
    assert slash.status_code == 200 and http.get(URL + "shop/42", headers=auth()).status_code == 200
    resp = http.delete(URL + "C-2?comment=cleared", headers=auth())
    assert resp.status_code == 200 and resp.get_json()["removed"] == "C-2"
    assert http.get(URL + "C-2", headers=auth()).status_code == 404
    assert http.delete(URL + "C-2", headers=auth()).status_code == 404
    values = sorted(e["value"] for e in http.get("/api/lists/deny", headers=auth()).get_json()["entries"])
    assert values == ["C-1", "shop/42"]
    audit = http.get("/api/lists/deny/audit", headers=auth()).get_json()["audit"]
    assert [(a["action"], a["values"], a["comment"]) for a in audit[:3]] == [
        ("remove", ["C-2"], "cleared"),
        ("add", ["shop/42"], ""),
        ("add", ["C-2"], ""),
    ]


def test_refusals_name_the_problem_and_change_nothing(http) -> None:  # noqa: F811
    assert http.put("/api/lists/deny", json={"entries": ["C-1"]}, headers=auth()).status_code == 200
    assert http.get(URL + "C-1").status_code == 401
    assert http.put(URL + "C-9", headers=auth("ann")).status_code == 403
    assert http.delete(URL + "C-1", headers=auth("ann")).status_code == 403
    assert http.put("/api/lists/nosuch/entries/C-9", headers=auth()).status_code == 404  # no list made
    assert http.get("/api/lists/nosuch", headers=auth()).status_code == 404
    bad = http.put(URL + "=cmd()", headers=auth())
    assert bad.status_code == 400 and bad.get_json()["path"] == "value"
    assert http.put(URL + "C-9", json={"expires_at": "soon"}, headers=auth()).status_code == 400
    assert http.put(URL + "C-9", json={"colour": "red"}, headers=auth()).status_code == 400
    assert http.put(URL + "%20C-9", headers=auth()).status_code == 400
    assert [e["value"] for e in http.get("/api/lists/deny", headers=auth()).get_json()["entries"]] == ["C-1"]


def test_a_session_write_needs_the_csrf_token(http) -> None:  # noqa: F811
    assert http.put("/api/lists/deny", json={"entries": ["C-1"]}, headers=auth()).status_code == 200
    page = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"username": "root", "password": PASSWORDS["root"], "csrf_token": token, "next": "/"}
    assert http.post("/login", data=form).status_code == 303
    assert http.put(URL + "C-5").status_code == 403  # the cookie alone
    assert http.delete(URL + "C-1").status_code == 403
    page = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert http.put(URL + "C-5", headers={"X-CSRF-Token": token}).status_code == 200
    assert http.delete(URL + "C-1", headers={"X-CSRF-Token": token}).status_code == 200
