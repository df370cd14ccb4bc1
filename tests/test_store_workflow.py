"""Alert workflow: transitions, optimistic concurrency, banner, seq, history, alert table reads."""

from __future__ import annotations

import pytest

from dashapp.store import (
    AlertNotFound,
    AlertWorkflow,
    DashboardReader,
    InvalidAction,
    VersionConflict,
)
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration

CLOCK_S = 1_790_000_500.25


@pytest.fixture
def workflow(redis_client, keys) -> AlertWorkflow:
    return AlertWorkflow(redis_client, keys, clock=lambda: CLOCK_S)


@pytest.fixture
def reader(redis_client, keys) -> DashboardReader:
    return DashboardReader(redis_client, keys)


@pytest.fixture
def alert_ids(redis_client, keys) -> list[str]:
    """Five alerts, oldest first: 0, 2 and 4 high severity, 1 and 3 medium."""
    return [
        put_alert(redis_client, keys, make_alert(n, severity="high" if n % 2 == 0 else "medium"))
        for n in range(5)
    ]


def test_alert_rows_and_banner_newest_first(reader, alert_ids):
    rows = reader.alert_rows()
    assert [r.alert_id for r in rows] == alert_ids[::-1]
    row = rows[0]
    assert (row.status, row.version, row.assignee, row.txn_id, row.rules) == (
        "new",
        1,
        "",
        "txn-4",
        ("high_amount",),
    )
    assert row.reason_text == "high_amount fired"
    assert row.to_dict()["reasons"][0]["limit"] == 5000.0
    banner = reader.banner(limit=2)
    assert banner.count == 3
    assert [r.alert_id for r in banner.newest] == [alert_ids[4], alert_ids[2]]
    assert [r.alert_id for r in reader.alert_rows(limit=2)] == alert_ids[:2:-1]


def test_acknowledge_updates_record_banner_seq_and_history(workflow, reader, redis_client, keys, alert_ids):
    redis_client.set(keys.seq, 41)
    row = workflow.act(alert_ids[4], "acknowledge", "alice", expected_version=1, note="looking")
    assert (row.status, row.version, row.updated_by, row.note) == ("acknowledged", 2, "alice", "looking")
    assert row.updated_at == int(CLOCK_S * 1000)
    assert workflow.get(alert_ids[4]) == row  # what was stored is what was returned
    assert reader.seq() == 42
    banner = reader.banner()
    assert banner.count == 2 and alert_ids[4] not in [r.alert_id for r in banner.newest]
    assert workflow.history(alert_ids[4]) == [
        {
            "at": int(CLOCK_S * 1000),
            "by": "alice",
            "action": "acknowledge",
            "from_status": "new",
            "to_status": "acknowledged",
            "note": "looking",
            "version": 2,
        }
    ]


def test_same_version_twice_the_second_analyst_gets_a_conflict_naming_the_first(workflow, alert_ids):
    workflow.act(alert_ids[0], "assign_to_me", "alice", expected_version=1)
    with pytest.raises(VersionConflict) as info:
        workflow.act(alert_ids[0], "resolve_fraud", "bob", expected_version=1)
    err = info.value
    assert "alice" in str(err) and err.changed_by == "alice" and err.current_version == 2
    assert err.current.status == "assigned" and err.current.assignee == "alice"
    assert workflow.get(alert_ids[0]).status == "assigned"  # bob changed nothing
    assert len(workflow.history(alert_ids[0])) == 1


def test_full_lifecycle_history_is_complete_and_ordered(workflow, reader, alert_ids):
    alert_id = alert_ids[2]
    steps = [
        ("acknowledge", "alice"),
        ("assign_to_me", "bob"),
        ("assign_to_me", "carol"),
        ("resolve_false_positive", "carol"),
        ("reopen", "dave"),
        ("resolve_fraud", "carol"),
    ]
    version = 1
    for action, user in steps:
        version = workflow.act(alert_id, action, user, version, note=f"{user} did {action}").version
    history = workflow.history(alert_id)
    assert [(h["action"], h["by"]) for h in history] == steps
    assert [h["to_status"] for h in history] == [
        "acknowledged",
        "assigned",
        "assigned",
        "resolved_false_positive",
        "assigned",
        "resolved_fraud",
    ]
    assert [h["from_status"] for h in history[1:]] == [h["to_status"] for h in history[:-1]]
    assert [h["version"] for h in history] == list(range(2, 8))
    final = workflow.get(alert_id)
    assert (final.status, final.assignee, final.version) == ("resolved_fraud", "carol", 7)
    assert [r.alert_id for r in reader.alert_rows(status="resolved_fraud")] == [alert_id]
    assert alert_id not in [r.alert_id for r in reader.alert_rows(status="new")]
    assert reader.alert_rows(status="bogus") == []


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ([], "explode", "unknown action"),
        ([], "reopen", "only resolved"),
        (["acknowledge"], "acknowledge", "already acknowledged"),
        (["resolve_fraud"], "resolve_false_positive", "already resolved_fraud"),
        (["resolve_fraud"], "assign_to_me", "reopen it"),
        (["assign_to_me"], "assign_to_me", "already assigned to you"),
    ],
)
def test_illegal_actions_are_rejected_without_change(workflow, reader, alert_ids, setup, action, message):
    alert_id, version = alert_ids[0], 1
    for step in setup:
        version = workflow.act(alert_id, step, "alice", version).version
    seq = reader.seq()
    with pytest.raises(InvalidAction, match=message):
        workflow.act(alert_id, action, "alice", version)
    assert workflow.get(alert_id).version == version and reader.seq() == seq


def test_bad_arguments(workflow, alert_ids):
    with pytest.raises(InvalidAction, match="too long"):
        workflow.act(alert_ids[0], "acknowledge", "alice", 1, note="x" * 1001)
    with pytest.raises(InvalidAction, match="user"):
        workflow.act(alert_ids[0], "acknowledge", " ", 1)
    assert workflow.act(alert_ids[0], "acknowledge", "alice", 1, note="x" * 1000).version == 2


@pytest.mark.parametrize("alert_id", ["does-not-exist", "x:history", "", "a" * 500])
def test_unknown_alert(workflow, alert_ids, alert_id):
    with pytest.raises(AlertNotFound):
        workflow.act(alert_id, "acknowledge", "alice", 1)
    with pytest.raises(AlertNotFound):
        workflow.get(alert_id)
    assert workflow.history(alert_id) == []


def test_unreadable_alert_records_are_skipped_by_readers(reader, redis_client, keys, alert_ids):
    redis_client.hset(keys.alert(alert_ids[3]), "d", b"{garbage")
    redis_client.delete(keys.alert(alert_ids[4]))  # indexed but gone
    redis_client.zadd(keys.alert_index, {"no:such:id": 1})
    assert [r.alert_id for r in reader.alert_rows()] == alert_ids[2::-1]
    assert [r.alert_id for r in reader.banner().newest] == [alert_ids[2], alert_ids[0]]


def _interfering_clock(redis_client, key: str, mapping: dict[str, object]):
    """A clock that, the first time it is read (between WATCH and MULTI), lets another client write."""
    calls: list[int] = []

    def clock() -> float:
        if not calls:
            redis_client.hset(key, mapping=mapping)
        calls.append(1)
        return CLOCK_S

    return clock


def test_a_write_racing_between_watch_and_exec_becomes_a_conflict(redis_client, keys, alert_ids):
    key = keys.alert(alert_ids[0])
    racing = _interfering_clock(
        redis_client, key, {"version": 2, "updated_by": "bob", "status": "acknowledged"}
    )
    workflow = AlertWorkflow(redis_client, keys, clock=racing)
    with pytest.raises(VersionConflict, match="bob"):
        workflow.act(alert_ids[0], "resolve_fraud", "alice", expected_version=1)
    assert workflow.get(alert_ids[0]).status == "acknowledged"
    assert workflow.history(alert_ids[0]) == []


def test_an_unrelated_racing_write_is_retried(redis_client, keys, alert_ids):
    key = keys.alert(alert_ids[0])
    payload = redis_client.hget(key, "d")
    racing = _interfering_clock(redis_client, key, {"d": payload})  # e.g. a bridge replay rewriting `d`
    workflow = AlertWorkflow(redis_client, keys, clock=racing)
    row = workflow.act(alert_ids[0], "acknowledge", "alice", expected_version=1)
    assert row.version == 2 and workflow.get(alert_ids[0]).status == "acknowledged"
    assert len(workflow.history(alert_ids[0])) == 1


def test_a_bogus_version_on_an_untouched_alert_does_not_blame_anyone(workflow, alert_ids):
    with pytest.raises(VersionConflict, match="reload") as info:
        workflow.act(alert_ids[1], "acknowledge", "alice", expected_version=-1)
    assert info.value.changed_by == "" and info.value.current_version == 1
    assert "bridge" not in str(info.value)
    assert workflow.get(alert_ids[1]).status == "new"
