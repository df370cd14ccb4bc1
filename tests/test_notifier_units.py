"""Notifier pure parts: signature, bodies, matching, backoff, offset tracking, the endpoints file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka.structs import TopicPartition

from common.alert_topic import alert_record
from common.webhooks import ALERT_RESOLVED, EndpointError, endpoint_from
from notifier.endpoints_file import load_endpoints, parse_endpoints
from notifier.events import alert_event, matches
from notifier.payloads import backoff_s, body_for, headers_for, sign, verify
from notifier.tracker import OffsetTracker
from tests.notifier_receiver import make_alert

SECRET = "whsec_0123456789abcdef0123"


def _endpoint(**kw: object) -> object:
    return endpoint_from({"id": "e1", "url": "http://127.0.0.1:9/x", "secret": SECRET, **kw})


def _event(severity: str = "high", rule: str = "high_amount") -> object:
    return alert_event(alert_record(make_alert(1, severity, rule))[1])


def test_signature_verifies_over_the_exact_body_and_refuses_changes() -> None:
    body = b'{"id":"a1"}'
    header = sign(SECRET, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify(SECRET, header, body, now=1_700_000_010)
    assert not verify(SECRET, header, body + b" ", now=1_700_000_010)  # body changed
    assert not verify("whsec_other_secret_000000", header, body, now=1_700_000_010)  # wrong secret
    assert not verify(SECRET, header, body, now=1_700_000_000 + 301)  # too old: a replay
    assert not verify(SECRET, "garbage", body, now=1_700_000_000)


def test_json_envelope_and_headers() -> None:
    endpoint, event = _endpoint(), _event()
    body = body_for(endpoint, event)  # type: ignore[arg-type]
    doc = json.loads(body)
    assert doc["id"] == "a00001" and doc["type"] == "alert.raised"
    assert doc["data"]["card_id"] == "C-1" and doc["data"]["reasons"][0]["rule"] == "high_amount"
    headers = headers_for(endpoint, event, body, now=1_700_000_000.5)  # type: ignore[arg-type]
    assert headers["X-Fraud-Event-Id"] == "a00001" and headers["X-Fraud-Event"] == "alert.raised"
    assert verify(SECRET, headers["X-Fraud-Signature"], body, now=1_700_000_001)


def test_slack_body_is_one_text_field() -> None:
    body = json.loads(body_for(_endpoint(format="slack"), _event()))  # type: ignore[arg-type]
    assert list(body) == ["text"]
    assert "HIGH" in body["text"] and "a00001" in body["text"] and "C-1" in body["text"]


@pytest.mark.parametrize(
    ("sub", "severity", "rule", "expected"),
    [
        ({}, "high", "r", True),
        ({}, "medium", "r", False),  # default: high only
        ({"min_severity": "medium"}, "medium", "r", True),
        ({"min_severity": "low", "rules": ["velocity"]}, "low", "velocity", True),
        ({"min_severity": "low", "rules": ["velocity"]}, "high", "high_amount", False),
        ({"rules": "velocity, high_amount"}, "high", "high_amount", True),
        ({"events": [ALERT_RESOLVED]}, "high", "r", False),  # resolutions only
        ({"enabled": False}, "high", "r", False),
    ],
)
def test_subscription_matching(sub: dict[str, object], severity: str, rule: str, expected: bool) -> None:
    assert matches(_endpoint(**sub), _event(severity, rule)) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {"url": "ftp://x/y"},
        {"url": "not a url"},
        {"secret": "short"},
        {"format": "xml"},
        {"min_severity": "urgent"},
        {"events": ["alert.deleted"]},
        {"id": "bad id!"},
        {"colour": "red"},
    ],
)
def test_bad_endpoints_are_refused_with_a_reason(bad: dict[str, object]) -> None:
    with pytest.raises(EndpointError):
        _endpoint(**bad)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert backoff_s(1, 1.0, 60.0, 0.0) == 0.5 and backoff_s(1, 1.0, 60.0, 0.999) < 1.0
    assert backoff_s(4, 1.0, 60.0, 0.0) == 4.0  # 8 s, half fixed
    assert backoff_s(20, 1.0, 60.0, 0.0) == 30.0 and backoff_s(20, 1.0, 60.0, 0.9999) <= 60.0


def test_tracker_commits_only_past_records_whose_deliveries_are_all_done() -> None:
    tp, t = TopicPartition("alerts", 0), OffsetTracker()
    t.add(tp, 10, 2)
    t.add(tp, 11, 0)
    t.add(tp, 12, 1)
    assert t.take() == {} and t.in_flight() == 3
    t.done(tp, 12)  # out of order: still blocked by 10
    assert t.take() == {}
    t.done(tp, 10)
    assert t.take() == {}  # one of 10's two deliveries still owed
    t.done(tp, 10)
    assert t.take() == {tp: 13} and t.in_flight() == 0
    t.forget([tp])
    t.done(tp, 99)  # a late completion of a revoked partition is ignored
    assert t.take() == {}


def test_endpoints_file_reads_secrets_from_the_environment() -> None:
    doc = {
        "endpoints": [
            {
                "id": "siem",
                "url": "https://siem.example/hook",
                "secret_env": "SIEM_SECRET",
                "min_severity": "medium",
            }
        ]
    }
    (e,) = parse_endpoints(doc, {"SIEM_SECRET": SECRET})
    assert e.id == "file:siem" and e.source == "file" and e.secret == SECRET and e.min_severity == "medium"
    assert "secret" not in e.public()
    with pytest.raises(EndpointError, match="SIEM_SECRET"):
        parse_endpoints(doc, {})
    with pytest.raises(EndpointError, match="unique"):
        parse_endpoints([doc["endpoints"][0]] * 2, {"SIEM_SECRET": SECRET})


def test_the_docs_example_file_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "webhooks.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "endpoints.yaml").write_text(example)
    env = {"SIEM_WEBHOOK_SECRET": SECRET, "CHAT_WEBHOOK_SECRET": SECRET[::-1]}
    siem, chat = load_endpoints(str(tmp_path / "endpoints.yaml"), env)
    assert (siem.id, siem.min_severity, chat.format, chat.rules) == (
        "file:siem",
        "medium",
        "slack",
        ("high_amount", "unknown_location"),
    )
    (tmp_path / "bad.yaml").write_text("endpoints: [{id: x, url: 'ftp://x', secret: 0123456789abcdefgh}]")
    with pytest.raises(EndpointError, match="http"):
        load_endpoints(str(tmp_path / "bad.yaml"), {})
    assert load_endpoints("", {}) == []


@pytest.mark.parametrize("nice", [-1, 20])
def test_a_nice_outside_0_to_19_is_refused(nice: int) -> None:
    from common.settings import ConfigError
    from notifier.config import NotifierSettings

    with pytest.raises(ConfigError, match="NOTIFIER_NICE"):
        NotifierSettings(nice=nice)


@pytest.mark.parametrize("nice", [0, 19])
def test_a_nice_of_0_to_19_is_taken(nice: int) -> None:
    from notifier.config import NotifierSettings

    assert NotifierSettings(nice=nice).nice == nice
