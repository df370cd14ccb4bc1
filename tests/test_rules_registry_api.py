"""HTTP: /api/rules (JSON, YAML, versions, diff, restore) and /api/lists (JSON, CSV) on the real app."""

from __future__ import annotations

import base64
import copy
import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from common.rules import default_rules
from dashapp.app import create_app
from dashapp.auth.users import add_user
from dashapp.settings import DashSettings
from tests.test_rules_registry_store import ONLINE_RULE

pytestmark = pytest.mark.integration
PASSWORDS = {"root": "root-password-1", "ann": "ann-password-1"}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "users.json"
    add_user(path, "root", "admin", PASSWORDS["root"])
    add_user(path, "ann", "analyst", PASSWORDS["ann"])
    return path


@pytest.fixture
def http(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[Any]:
    settings = DashSettings(
        redis_key_prefix=redis_prefix, dash_secret_key="k" * 32, dash_users_file=str(users_file)
    )
    yield create_app(settings, redis_client).server.test_client()


def auth(name: str = "root") -> dict[str, str]:
    token = base64.b64encode(f"{name}:{PASSWORDS[name]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def rules_doc(http: Any) -> dict[str, Any]:
    resp = http.get("/api/rules", headers=auth("ann"))
    assert resp.status_code == 200
    return resp.get_json()


def test_get_put_rules_json_and_yaml(http) -> None:
    doc = rules_doc(http)
    assert doc["version"] == 1 and doc["format"] == 1 and len(doc["rules"]) == 7
    as_yaml = http.get("/api/rules?format=yaml", headers=auth("ann"))
    assert as_yaml.mimetype == "application/yaml" and as_yaml.headers["ETag"] == '"1"'
    body = yaml.safe_load(as_yaml.get_data(as_text=True))
    body["rules"].append(copy.deepcopy(ONLINE_RULE))
    sent = yaml.safe_dump(body, sort_keys=False)
    resp = http.put(
        "/api/rules?comment=online+rule",
        data=sent,
        headers={**auth(), "If-Match": '"1"'},
        content_type="application/yaml",
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"version": 2, "changed": True, "updated_by": "root"}
    assert [r["id"] for r in rules_doc(http)["rules"]][-1] == "online_big"
    stale = http.put("/api/rules", data=sent, headers={**auth(), "If-Match": '"1"'})
    assert stale.status_code == 409 and stale.get_json()["current_version"] == 2
    same = http.put("/api/rules", data=sent, headers=auth())
    assert same.get_json()["changed"] is False
    versions = http.get("/api/rules/versions", headers=auth("ann")).get_json()["versions"]
    assert [(v["version"], v["author"], v["comment"]) for v in versions] == [
        (2, "root", "online rule"),
        (1, "system", "defaults (seeded)"),
    ]


def test_invalid_document_is_refused_with_its_path_and_changes_nothing(http, redis_client, keys) -> None:
    doc = rules_doc(http)
    before = redis_client.get(keys.rules)
    bad = copy.deepcopy(ONLINE_RULE)
    bad["when"]["all"][1]["value"] = "abc"
    doc["rules"].append(bad)
    for body in (doc, "rules: [", "[1, 2]", "\x00\x01"):
        data = body if isinstance(body, str) else yaml.safe_dump(body)
        resp = http.put("/api/rules", data=data, headers=auth())
        assert resp.status_code == 400, (body, resp.get_json())
    resp = http.put("/api/rules", json=doc, headers=auth())
    assert resp.get_json()["path"] == "rules[7].when.all[1].value"
    assert http.put("/api/rules", data=b"\xff\xfe", headers=auth()).status_code == 400
    assert http.put("/api/rules?comment=" + "x" * 600, json=doc, headers=auth()).status_code == 400
    assert http.put("/api/rules", json=doc, headers={**auth(), "If-Match": "soon"}).status_code == 400
    assert redis_client.get(keys.rules) == before and rules_doc(http)["version"] == 1


def test_writes_need_an_admin_and_a_token_from_sessions(http) -> None:
    doc = rules_doc(http)
    assert http.put("/api/rules", json=doc, headers=auth("ann")).status_code == 403
    assert http.put("/api/rules", json=doc).status_code == 401
    assert (
        http.put(
            "/api/lists/deny", data="value\nC-1\n", content_type="text/csv", headers=auth("ann")
        ).status_code
        == 403
    )
    assert http.post("/api/rules/versions/1/restore", headers=auth("ann")).status_code == 403
    foreign = {**auth(), "Origin": "https://evil.example"}
    assert http.put("/api/rules", json=doc, headers=foreign).status_code == 403
    page = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"username": "root", "password": PASSWORDS["root"], "csrf_token": token, "next": "/"}
    assert http.post("/login", data=form).status_code == 303
    assert http.put("/api/rules", json=doc).status_code == 403  # the session cookie alone is not enough
    page = http.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    doc["alerting"]["min_score"] = 0.55
    assert http.put("/api/rules", json=doc, headers={"X-CSRF-Token": token}).status_code == 200


def test_versions_diff_and_restore(http) -> None:
    doc = rules_doc(http)
    doc["rules"].append(copy.deepcopy(ONLINE_RULE))
    assert http.put("/api/rules", json=doc, headers=auth()).status_code == 200
    one = http.get("/api/rules/versions/1", headers=auth("ann")).get_json()
    assert one["version"] == 1 and len(one["document"]["rules"]) == 7
    diff = http.get("/api/rules/diff?from=1&to=2", headers=auth("ann")).get_json()
    assert [c["rule"] for c in diff["changes"]] == ["online_big"]
    resp = http.post("/api/rules/versions/1/restore", json={"comment": "undo"}, headers=auth())
    assert resp.status_code == 200 and resp.get_json()["version"] == 3
    assert [r["id"] for r in rules_doc(http)["rules"]] == list(default_rules().__struct_fields__[:7])
    three = http.get("/api/rules/versions/3", headers=auth("ann")).get_json()
    assert (three["restored_from"], three["comment"]) == (1, "undo")
    for path in ("/api/rules/versions/99", "/api/rules/versions/abc", "/api/rules/diff?from=1&to=77"):
        assert http.get(path, headers=auth("ann")).status_code == 404, path
    assert http.get("/api/rules/diff?from=1", headers=auth("ann")).status_code == 400
    assert http.get("/api/rules/versions?limit=x", headers=auth("ann")).status_code == 400


def test_list_csv_round_trip_and_json(http) -> None:
    text = "value,expires_at,note\r\nC-1,2027-01-01T00:00:00Z,travel\r\nC-2,,'=1+1\r\n"
    resp = http.put("/api/lists/snoozed?comment=trip", data=text, content_type="text/csv", headers=auth())
    assert resp.status_code == 200 and resp.get_json() == {"name": "snoozed", "count": 2, "version": 1}
    back = http.get("/api/lists/snoozed?format=csv", headers=auth("ann"))
    assert back.mimetype == "text/csv" and back.get_data(as_text=True) == text
    body = http.get("/api/lists/snoozed", headers=auth("ann")).get_json()
    assert [(e["value"], e["expires_at"], e["note"], e["by"]) for e in body["entries"]] == [
        ("C-1", "2027-01-01T00:00:00Z", "travel", "root"),
        ("C-2", None, "=1+1", "root"),
    ]
    packed = gzip.compress(b"value\n" + b"".join(b"D-%06d\n" % i for i in range(100_000)))
    resp = http.put(
        "/api/lists/deny",
        data=packed,
        content_type="text/csv",
        headers={**auth(), "Content-Encoding": "gzip"},
    )
    assert resp.status_code == 200 and resp.get_json()["count"] == 100_000
    resp = http.put(
        "/api/lists/deny", json={"entries": ["M-1", {"value": "M-2"}], "comment": "small"}, headers=auth()
    )
    assert resp.get_json()["count"] == 2
    listing = http.get("/api/lists", headers=auth("ann")).get_json()
    assert [(i["name"], i["count"]) for i in listing["lists"]] == [("deny", 2), ("snoozed", 2)]
    audit = http.get("/api/lists/deny/audit", headers=auth("ann")).get_json()["audit"]
    assert [(a["action"], a["count"], a["comment"]) for a in audit] == [
        ("put", 2, "small"),
        ("put", 100_000, ""),
    ]


def test_bad_list_input_is_refused_with_its_line_and_applies_nothing(http) -> None:
    http.put("/api/lists/deny", json={"entries": ["M-1"]}, headers=auth())
    bad = "value,expires_at,note\nM-2,,\nM-3,next week,\n"
    resp = http.put("/api/lists/deny", data=bad, content_type="text/csv", headers=auth())
    assert resp.status_code == 400 and resp.get_json()["path"] == "line 3"
    assert "expires_at" in resp.get_json()["error"]
    for data, ctype in (
        ("{", "application/json"),
        ('{"entries": [1]}', "application/json"),
        ("x", "application/xml"),
    ):
        assert http.put("/api/lists/deny", data=data, content_type=ctype, headers=auth()).status_code in (
            400,
            415,
        )
    assert http.put("/api/lists/Bad-Name", json={"entries": []}, headers=auth()).status_code == 400
    assert http.get("/api/lists/missing", headers=auth("ann")).status_code == 404
    bomb = gzip.compress(b"value\n" + b"A" * 70_000_000)
    resp = http.put(
        "/api/lists/deny", data=bomb, content_type="text/csv", headers={**auth(), "Content-Encoding": "gzip"}
    )
    assert resp.status_code == 413
    assert [e["value"] for e in http.get("/api/lists/deny", headers=auth("ann")).get_json()["entries"]] == [
        "M-1"
    ]


def test_delete_is_refused_while_a_suppression_uses_the_list(http) -> None:
    http.put("/api/lists/snoozed", json={"entries": ["C-1"]}, headers=auth())
    doc = rules_doc(http)
    doc["suppressions"] = [{"list": "snoozed", "field": "card_id", "rules": ["*"]}]
    assert http.put("/api/rules", json=doc, headers=auth()).status_code == 200
    resp = http.delete("/api/lists/snoozed", headers=auth())
    assert resp.status_code == 409 and resp.get_json()["used_by"] == ["suppressions[0]"]
    assert http.delete("/api/lists/snoozed", headers=auth("ann")).status_code == 403
    assert http.post("/api/rules/versions/1/restore", headers=auth()).status_code == 200
    assert http.delete("/api/lists/snoozed", headers=auth()).status_code == 200
    assert http.get("/api/lists", headers=auth("ann")).get_json()["lists"] == []
