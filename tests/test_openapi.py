"""The OpenAPI document equals the app's /api routes (both ways), is valid OpenAPI 3, and is served."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import redis
from openapi_spec_validator import validate

from dashapp.openapi import DOCUMENT
from tests.test_dash_http import basic
from tests.test_security_fixtures import PASSWORDS, make_app, write_users

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # Flask adds them to every rule


def _openapi_path(rule: str) -> str:
    """Flask's `/api/x/<conv:name>` as OpenAPI's `/api/x/{name}`."""
    return re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", rule)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    users = write_users(tmp_path_factory.mktemp("openapi") / "users.json")
    return make_app(redis.Redis.from_url("redis://127.0.0.1:6379/0"), "openapi-unused:", users)


def _app_routes(app: Any) -> set[tuple[str, str]]:
    return {
        (method.lower(), _openapi_path(rule.rule))
        for rule in app.server.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - IGNORED_METHODS
    }


def _documented() -> set[tuple[str, str]]:
    return {(method, path) for path, ops in DOCUMENT["paths"].items() for method in ops}


def test_every_api_route_is_documented(app: Any) -> None:
    missing = sorted(_app_routes(app) - _documented())
    assert not missing, "routes missing from dashapp/openapi.py: " + ", ".join(
        f"{m.upper()} {p}" for m, p in missing
    )


def test_nothing_documented_is_missing_from_the_app(app: Any) -> None:
    extra = sorted(_documented() - _app_routes(app))
    assert not extra, "dashapp/openapi.py describes routes the app lacks: " + ", ".join(
        f"{m.upper()} {p}" for m, p in extra
    )


def test_path_parameters_match_the_rule_placeholders() -> None:
    for path, ops in DOCUMENT["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, op in ops.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path, declared)


def test_the_document_is_valid_openapi_3() -> None:
    validate(DOCUMENT)  # raises with the first problem


@pytest.mark.integration
def test_the_document_is_served_to_api_callers(
    redis_client: redis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    served = make_app(redis_client, redis_prefix, write_users(tmp_path / "u.json")).server.test_client()
    assert served.get("/api/openapi.json").status_code == 401
    resp = served.get("/api/openapi.json", headers=basic("ann", PASSWORDS["ann"]))
    assert resp.status_code == 200 and resp.get_json() == DOCUMENT
