"""Pure tests of the dashboard's figure builders, views, request validation and user file."""

from __future__ import annotations

import base64
import json

import pytest
from werkzeug.exceptions import BadRequest

from common.alerts import Alert, Reason
from common.rules import RULE_SPECS, apply_changes, default_rules
from dashapp.auth.basic import BasicVerifier, parse_basic
from dashapp.auth.users import User, UserDirectory, UserFileError, add_user
from dashapp.callbacks.workflow_cb import allowed_actions, banner_target, do_action
from dashapp.figures.base import esc
from dashapp.figures.citymap import city_map_figure
from dashapp.figures.rules_bar import rules_bar_figure
from dashapp.figures.throughput import throughput_delta, throughput_figure
from dashapp.figures.timeline import ALERT_TRACE, timeline_delta, timeline_figure
from dashapp.security import callback_body_problem
from dashapp.store.alert_rows import Banner, row_from_alert
from dashapp.store.models import CityAgg, Kpis, SecondBucket, Totals, TxnRow
from dashapp.store.search_query import InvalidQuery, parse_query
from dashapp.views.alert_detail import detail_view, history_view
from dashapp.views.banner import HIDDEN, SHOWN, banner_view
from dashapp.views.grid import grid_row, grid_row_from_alert, workflow_digest
from dashapp.views.kpis import KPI_CARDS, kpi_texts
from dashapp.views.rules_form import changes_from_form, form_values, rules_form
from dashapp.views.wording import in_words


def _alert(n: int = 1, city: str = "Paris", reason: str = "amount 9000 > 5000") -> Alert:
    return Alert(
        alert_id=f"a{n}",
        txn_id=f"t{n}",
        ts="2026-09-21T12:00:00.000Z",
        event_ms=1_790_000_000_000 + n,
        card_id=f"c{n}",
        account_id="acct",
        amount=9000.0 + n,
        currency="EUR",
        merchant_id="m",
        merchant_category="electronics",
        city=city,
        country="FR",
        lat=48.8,
        lon=2.3,
        channel="online",
        score=0.9,
        severity="high",
        reasons=(Reason("high_amount", 9000.0, 5000.0, reason),),
        rules_version=1,
    )


def _txn(n: int, city: str = "Lyon") -> TxnRow:
    return TxnRow(
        txn_id=f"t{n}",
        ts=f"2026-09-21T12:00:0{n % 10}.000Z",
        amount=10.0 + n,
        card_id="c",
        city=city,
        entry_id=f"{n}-0",
    )


def _json_size(obj: object) -> int:
    return len(json.dumps(obj))


# --- figures ------------------------------------------------------------------------------------
def test_esc_neutralises_hover_html() -> None:
    assert esc("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"


def test_timeline_figure_has_transactions_and_red_alerts_with_escaped_hover() -> None:
    fig = timeline_figure([_txn(1), _txn(2, city="<img src=x>")], [_alert(city="<script>")], {})
    txns, alerts = fig["data"]
    assert txns["y"] == [11.0, 12.0] and alerts["y"] == [9001.0]
    assert "<img" not in json.dumps(fig) and "<script>" not in json.dumps(fig)
    assert "&lt;script&gt;" in alerts["text"][0] and "amount 9000 &gt; 5000" in alerts["text"][0]
    assert fig["layout"]["uirevision"] == "live"
    assert "template" not in fig["layout"]  # plain dict, not a go.Figure


def test_timeline_delta_is_extend_data_with_max_points_or_none() -> None:
    assert timeline_delta([], [], 500, {}) is None
    data, traces, max_points = timeline_delta([_txn(1)], [_alert()], 500, {}) or []
    assert traces == [0, ALERT_TRACE] and max_points == 500
    assert data["y"] == [[11.0], [9001.0]] and len(data["text"][1]) == 1


def test_throughput_figure_and_delta_keep_one_window() -> None:
    buckets = [SecondBucket(100 + i, 5, i % 2, 50.0) for i in range(3)]
    fig = throughput_figure(buckets, 300)
    assert fig["data"][0]["x"] == [100_000, 101_000, 102_000] and fig["data"][1]["yaxis"] == "y2"
    assert throughput_delta([], 300) is None
    assert throughput_delta(buckets, 300)[1:] == [[0, 1], 300]  # type: ignore[index]


def test_rules_bar_sorted_with_labels_and_empty_state() -> None:
    fig = rules_bar_figure({"velocity": 3, "high_amount": 7}, {"high_amount": "High amount"})
    assert fig["data"][0]["y"] == ["velocity", "High amount"] and fig["data"][0]["x"] == [3, 7]
    assert rules_bar_figure({}, {})["data"] == []


def test_city_map_uses_scattergeo_and_counts_unlocated_alerts() -> None:
    cities = [
        CityAgg("Paris", "FR", 48.8, 2.3, 10, 2),
        CityAgg("UNKNOWN_IP_ADDR", None, None, None, 4, 3),
        CityAgg("<b>", "FR", 1.0, 1.0, 1, 0),
    ]
    fig = city_map_figure(cities)
    assert {t["type"] for t in fig["data"]} == {"scattergeo"}
    assert fig["data"][0]["lat"] == [48.8, 1.0] and fig["data"][1]["lat"] == [48.8]
    assert "+3 alerts without location" in fig["layout"]["annotations"][0]["text"]
    assert "<b>" not in json.dumps(fig["data"])


# --- views --------------------------------------------------------------------------------------
def test_kpi_texts_cover_every_card() -> None:
    k = Kpis(
        window_s=10,
        txns_per_s=12.34,
        alerts_per_min=6.0,
        amount_per_min=12_345.0,
        fraud_rate=0.0123,
        latency_p50_ms=4.2,
        latency_p99_ms=None,
        total_lag=1234,
        bridges_alive=2,
        last_write_ms=None,
        totals=Totals(),
    )
    texts = kpi_texts(k)
    assert set(texts) == {name for name, _, _ in KPI_CARDS}
    assert texts["tps"] == "12.3" and texts["rate"] == "1.23 %" and texts["p99"] == "\u2013"
    assert texts["lag"] == "1,234" and texts["amount"] == "$12.3k"


def test_banner_hidden_without_alerts_and_lists_newest_with_ack_buttons() -> None:
    assert banner_view(Banner(0, ()), {}) == ({"count": 0, "head": [], "items": []}, HIDDEN)
    rows = (row_from_alert(_alert(2)), row_from_alert(_alert(1)))
    content, cls = banner_view(Banner(4, rows), {})
    assert cls == SHOWN and content["count"] == 4
    text = json.dumps(content, default=lambda c: c.to_plotly_json())
    # amounts carry their currency; newest first; every item opens its alert and acknowledges it
    assert "4 unacknowledged" in text and text.index("9,002.00 EUR") < text.index("9,001.00 EUR")
    assert text.count('"banner-ack"') == 2 and text.count('"banner-open"') == 2


def test_statuses_actions_and_amounts_read_as_words() -> None:
    row = row_from_alert(_alert(), status="resolved_false_positive", version=3)
    g = grid_row(row, {})
    assert g["status"] == "resolved_false_positive" and g["status_text"] == "Resolved: false positive"
    assert g["amount"] == 9001.0 and g["amount_text"] == "9,001.00 EUR"
    assert grid_row_from_alert(_alert(), {})["status_text"] == "New"
    facts = json.dumps(detail_view(row), default=lambda c: c.to_plotly_json())
    assert "Resolved: false positive" in facts and "9,001.00 EUR" in facts
    assert "resolved_false_positive" not in facts
    event = {
        "at": 1,
        "by": "ann",
        "action": "resolve_fraud",
        "from_status": "assigned",
        "to_status": "resolved_fraud",
    }
    hist = json.dumps(history_view([event]), default=lambda c: c.to_plotly_json(), ensure_ascii=False)
    assert "Resolved as fraud: Assigned → Resolved: fraud" in hist
    assert in_words("alert is already resolved_fraud") == "alert is already resolved as fraud"


@pytest.mark.parametrize(
    ("status", "assignee", "allowed"),
    [
        ("new", "", ["acknowledge", "assign_to_me", "resolve_fraud", "resolve_false_positive"]),
        ("acknowledged", "", ["assign_to_me", "resolve_fraud", "resolve_false_positive"]),
        ("assigned", "ann", ["resolve_fraud", "resolve_false_positive"]),
        ("assigned", "bob", ["assign_to_me", "resolve_fraud", "resolve_false_positive"]),
        ("resolved_fraud", "ann", ["reopen"]),
        ("resolved_false_positive", "", ["reopen"]),
    ],
)
def test_only_actions_the_state_allows_are_offered(status: str, assignee: str, allowed: list[str]) -> None:
    row = row_from_alert(_alert(), status=status, assignee=assignee, version=2)
    assert allowed_actions(row, "ann") == allowed


@pytest.mark.parametrize("note", ["\ud800 fraud", {"text": "x"}, 7, ["a"]])
def test_a_note_no_textarea_can_send_is_a_bad_request(note: object) -> None:
    with pytest.raises(BadRequest):
        do_action(None, {"alert_id": "a1", "version": 1}, "acknowledge", note, "ann")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ident",
    [
        {"type": "banner-ack", "alert": "a1", "v": "abc"},
        {"type": "banner-ack", "alert": "a1", "v": float("inf")},
        {"type": "banner-ack", "alert": "a1", "v": 1.5},
        {"type": "banner-ack", "alert": "a1", "v": True},
        {"type": "banner-ack", "alert": "a1", "v": 0},
        {"type": "banner-ack", "alert": "a1", "v": 10**400},
        {"type": "banner-ack", "alert": ["a1"], "v": 1},
        "banner-ack",
    ],
)
def test_a_forged_banner_button_is_a_bad_request(ident: object) -> None:
    with pytest.raises(BadRequest):
        banner_target(ident)


def test_grid_rows_are_plain_text_with_workflow_fields() -> None:
    row = row_from_alert(_alert(city="<i>x</i>"), status="assigned", version=3, assignee="bob")
    g = grid_row(row, {"high_amount": "High amount"})
    assert g["city"] == "<i>x</i>" and g["rules"] == "High amount" and g["version"] == 3
    fresh = grid_row_from_alert(_alert(), {})
    assert fresh["status"] == "new" and fresh["version"] == 1 and fresh["alert_id"] == "a1"


def test_workflow_digest_moves_only_on_workflow_changes() -> None:
    base = [row_from_alert(_alert(1)), row_from_alert(_alert(2), version=2)]
    more = [row_from_alert(_alert(3)), *base]
    acted = [row_from_alert(_alert(1), version=2), base[1]]
    assert workflow_digest(base) == workflow_digest(more)
    assert workflow_digest(base) != workflow_digest(acted)


def test_rules_form_round_trip_through_changes() -> None:
    ids = [
        {"type": "rule-field", "rule": r, "field": f.name} for r, s in RULE_SPECS.items() for f in s.fields
    ]
    doc_rules = default_rules()

    class Doc:
        rules = doc_rules

    values = form_values(Doc, ids)  # type: ignore[arg-type]
    changes = changes_from_form(ids, values)
    assert apply_changes(doc_rules, changes) == doc_rules
    assert len(rules_form(editable=False)) == len(RULE_SPECS)


def test_rules_form_states_bounds_as_people_read_them() -> None:
    sets = {fs.id: fs for fs in rules_form(editable=True)}

    def bounds(rule: str) -> dict[str, str]:  # field label -> bounds text, for the labelled inputs
        rows = [r for r in sets[f"rule-set-{rule}"].children[1:] if isinstance(r.children, list)]
        return {row.children[0].children[0].children: row.children[1].children for row in rows}

    assert bounds("high_amount")["Threshold ($)"] == "1\u20131,000,000"
    assert bounds("high_amount")["Weight"] == "0\u20131"
    assert "0.01\u2013100" in bounds("card_testing").values()


def test_changes_from_form_converts_checkbox_and_list_fields() -> None:
    ids = [
        {"rule": "high_amount", "field": "enabled"},
        {"rule": "unknown_location", "field": "deny_cities"},
        {"rule": "high_amount", "field": "threshold"},
    ]
    out = changes_from_form(ids, [[], "A\n\n B \n", None])
    assert out == {
        "high_amount": {"enabled": False, "threshold": None},
        "unknown_location": {"deny_cities": ["A", "B"]},
    }


# --- request validation -------------------------------------------------------------------------
CB_MAP = {
    "..a.b...c.d..": {"inputs": [{"id": "i"}], "state": [], "callback": print},
    "x.y": {"inputs": [{}], "state": [{}], "callback": print},
    "page.only": {"inputs": [{}], "state": []},  # a clientside callback: Dash keeps no function for it
}
PROP = {"id": "i", "property": "p", "value": 1}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "expected a JSON object"),
        ({"output": "nope"}, "unknown output"),
        ({"output": "page.only", "inputs": [PROP], "state": []}, "not a server callback"),
        ({"output": "..a.b...c.d..", "inputs": "x", "outputs": [PROP, PROP]}, "inputs do not match"),
        ({"output": "..a.b...c.d..", "inputs": [PROP, PROP], "outputs": [PROP, PROP]}, "inputs do not match"),
        ({"output": "..a.b...c.d..", "inputs": [PROP], "outputs": [PROP]}, "outputs do not match"),
        ({"output": "x.y", "inputs": [PROP], "state": []}, "state do"),
        ({"output": "x.y", "inputs": [PROP], "state": [PROP], "changedPropIds": [1]}, "changedPropIds"),
        ({"output": "x.y", "inputs": [[PROP, {"id": 3}]], "state": [PROP]}, "inputs do not match"),
    ],
)
def test_callback_body_problems(body: object, problem: str) -> None:
    assert problem in (callback_body_problem(body, CB_MAP) or "")


def test_callback_body_accepts_the_renderers_shape() -> None:
    body = {"output": "..a.b...c.d..", "outputs": [PROP, PROP], "inputs": [[PROP]], "changedPropIds": ["i.p"]}
    assert callback_body_problem(body, CB_MAP) is None


@pytest.mark.parametrize(
    ("args", "ok"),
    [
        ({}, (100, None)),
        ({"limit": "1"}, (1, None)),
        ({"limit": "1000", "status": "new"}, (1000, "new")),
        ({"limit": "0"}, None),
        ({"limit": "1001"}, None),
        ({"limit": "-5"}, None),
        ({"limit": "abc"}, None),
        ({"limit": "1e3"}, None),
        ({"status": "deleted"}, None),
        ({"limit": "99999999999999999999"}, None),
    ],
)
def test_parse_alert_query(args: dict[str, str], ok: tuple[int, str | None] | None) -> None:
    if ok is None:
        with pytest.raises(InvalidQuery):
            parse_query(args)
    else:
        query = parse_query(args)
        assert (query.limit, query.status or None) == ok


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "Basic",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic " + "A" * 5000,
    ],
)
def test_parse_basic_rejects_malformed_headers(header: str | None) -> None:
    assert parse_basic(header) is None


def test_parse_basic_accepts_valid_header() -> None:
    assert parse_basic("Basic " + base64.b64encode(b"ann:pa:ss").decode()) == ("ann", "pa:ss")


# --- users --------------------------------------------------------------------------------------
def test_users_file_stores_only_scrypt_hashes(tmp_path) -> None:
    path = tmp_path / "users.json"
    add_user(path, "ann", "analyst", "correct horse")
    raw = path.read_text()
    assert "correct horse" not in raw and "scrypt:" in raw
    assert (path.stat().st_mode & 0o777) == 0o600
    users = UserDirectory(path)
    assert users.verify("ann", "correct horse") is not None
    assert users.verify("ann", "wrong") is None and users.verify("nobody", "x") is None
    with pytest.raises(UserFileError):
        add_user(path, "Bad Name", "analyst", "longenough")
    with pytest.raises(UserFileError):
        add_user(path, "bob", "root", "longenough")


def test_users_file_rechecked_at_most_every_recheck_s(tmp_path) -> None:
    path = tmp_path / "users.json"
    add_user(path, "ann", "analyst", "first-password")
    clock = {"t": 100.0}
    users = UserDirectory(path, recheck_s=1.0, clock=lambda: clock["t"])
    assert users.get("ann") is not None and users.get("bob") is None
    add_user(path, "bob", "admin", "second-password")
    clock["t"] = 100.9
    assert users.get("bob") is None  # within the recheck interval: the file is not looked at
    clock["t"] = 101.0
    bob = users.get("bob")
    assert bob is not None and bob.is_admin  # a second later the change applies


def test_basic_verifier_caches_success_and_notices_password_change(tmp_path) -> None:
    path = tmp_path / "users.json"
    add_user(path, "ann", "analyst", "first-password")
    users = UserDirectory(path)
    calls = {"n": 0}
    real = users.verify

    def counting(name: str, password: str) -> User | None:
        calls["n"] += 1
        return real(name, password)

    users.verify = counting  # type: ignore[method-assign]
    clock = {"t": 0.0}
    verifier = BasicVerifier(users, ttl_s=30, clock=lambda: clock["t"])
    assert verifier.verify("ann", "first-password") is not None
    assert verifier.verify("ann", "first-password") is not None
    assert calls["n"] == 1  # second check served from the cache
    assert verifier.verify("ann", "other") is None and calls["n"] == 2
    clock["t"] = 31.0
    assert verifier.verify("ann", "first-password") is not None and calls["n"] == 3  # expired
    add_user(path, "ann", "analyst", "second-password")
    assert verifier.verify("ann", "first-password") is None  # cached entry no longer matches the file


def test_load_generator_http_parsing_handles_partial_and_refuses_chunked() -> None:
    from bench.http_conn import HttpError, parse_response

    whole = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    assert parse_response(bytearray(whole[:20])) is None  # head not complete
    assert parse_response(bytearray(whole[:-2])) == len(whole)  # head there: the length it needs
    assert parse_response(bytearray(whole + b"HTTP/1.1")) == (200, b"hello", True, len(whole))
    assert parse_response(bytearray(b"HTTP/1.1 204 No Content\r\n\r\n")) == (204, b"", False, 27)
    with pytest.raises(HttpError):
        parse_response(bytearray(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"))
