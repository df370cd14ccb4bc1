"""The rules view's quality table: pure builders, and its callback over HTTP on the real app and Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from dash import html

from dashapp.store import AlertWorkflow
from dashapp.views.rule_quality_view import precision_text, quality_table
from tests.test_rule_builder_http import _call, _dep, app, login, users_file  # noqa: F401 - fixtures
from tests.test_store_fixtures import make_alert, put_alert

H = 3_600_000


@pytest.mark.parametrize(
    ("window", "text"),
    [
        ({"resolved": 0, "precision": None}, "\u2013 (none resolved)"),
        ({"resolved": 3, "precision": 2 / 3}, "67 % of 3 (few)"),
        ({"resolved": 40, "precision": 0.775}, "78 % of 40"),
        ({"resolved": 12_000, "precision": 1.0}, "100 % of 12,000"),
    ],
)
def test_precision_is_never_shown_without_its_n(window: dict[str, Any], text: str) -> None:
    assert precision_text(window) == text


def _texts(node: Any) -> list[str]:
    """Every string in a component tree (as Dash serialises it, or as built)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for n in node for t in _texts(n)]
    if isinstance(node, dict):
        return _texts(node.get("props", {}).get("children"))
    if isinstance(node, html.Th | html.Td | html.Tr | html.Table | html.Thead | html.Tbody | html.P):
        return _texts(node.children)
    return []


def test_one_row_per_rule_with_both_windows() -> None:
    window = {"fraud": 2, "false_positive": 1, "open": 1, "raised": 4, "resolved": 3, "precision": 2 / 3}
    rows = [
        {"rule": "velocity", "name": "Velocity", "enabled": True, "windows": {"24h": window, "7d": window}},
        {"rule": "odd_rule", "name": "Odd", "enabled": False, "windows": {}},
    ]
    texts = _texts(quality_table(rows))
    assert "Velocity" in texts and "Odd (disabled)" in texts
    assert texts.count("67 % of 3 (few)") == 2 and texts.count("\u2013 (none resolved)") == 2
    assert _texts(quality_table([])) == ["No rules."]


@pytest.mark.integration
def test_the_callback_counts_the_live_rules(app, redis_client, keys) -> None:  # noqa: F811
    now = int(time.time() * 1000)
    wf = AlertWorkflow(redis_client, keys, clock=lambda: (now - H) / 1000)
    ids = [
        put_alert(redis_client, keys, make_alert(n, event_ms=now - 2 * H, rules=("velocity",)))
        for n in range(4)
    ]
    for aid, action in zip(ids, ["resolve_fraud", "resolve_fraud", "resolve_false_positive"], strict=False):
        wf.act(aid, action, "ann", 1)
    client = app.server.test_client()
    login(client, "ann")
    dep = _dep(client, "rq-refresh")
    anonymous = app.server.test_client()
    assert _call(anonymous, dep, [None, 1], [], "rq-refresh.n_clicks").status_code == 401
    resp = _call(client, dep, [None, 1], [], "rq-refresh.n_clicks")
    assert resp.status_code == 200
    texts = _texts(json.loads(resp.get_data(as_text=True))["response"]["rq-out"]["children"])
    row = texts[texts.index("Velocity") :][:11]
    assert row == ["Velocity", "2", "1", "1", "4", "67 % of 3 (few)", "2", "1", "1", "4", "67 % of 3 (few)"]
    assert texts.count("\u2013 (none resolved)") == 12  # the six other built-ins, both windows
