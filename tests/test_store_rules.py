"""RulesStore (seed, compare-and-set update, audit) and LoginThrottle against the real Redis."""

from __future__ import annotations

import json

import pytest

from common.rules import RuleValidationError, default_rules
from common.rules_doc import decode_rules_doc
from dashapp.store import InvalidAction, LoginThrottle, RulesStore, VersionConflict

pytestmark = pytest.mark.integration


@pytest.fixture
def store(redis_client, keys) -> RulesStore:
    return RulesStore(redis_client, keys, clock=lambda: 1_790_000_000.5)


def test_current_seeds_defaults_once(store, redis_client, keys):
    doc = store.current()
    assert (doc.version, doc.rules, doc.updated_by) == (1, default_rules(), "system")
    assert doc.updated_at == "2026-09-21T14:13:20.500Z"
    assert decode_rules_doc(redis_client.get(keys.rules)) == doc
    assert store.current() == doc
    assert store.audit() == []


def test_current_never_overwrites_a_stored_document(store, redis_client, keys):
    store.current()
    other = RulesStore(redis_client, keys)
    count = default_rules().velocity.max_count + 1
    changed = other.update({"velocity": {"max_count": count}}, "alice", 1)
    assert store.current() == changed and changed.rules.velocity.max_count == count


def test_update_bumps_version_audits_and_bumps_seq(store, redis_client, keys):
    store.current()
    defaults = default_rules()
    threshold, enabled = defaults.high_amount.threshold + 500, not defaults.high_amount.enabled
    redis_client.set(keys.seq, 10)
    doc = store.update({"high_amount": {"threshold": threshold, "enabled": enabled}}, "alice", 1)
    assert (doc.version, doc.updated_by) == (2, "alice")
    assert doc.rules.high_amount.threshold == threshold and doc.rules.high_amount.enabled is enabled
    assert store.current() == doc
    assert int(redis_client.get(keys.seq)) == 11
    window = defaults.velocity.window_s
    doc3 = store.update({"velocity": {"window_s": window + 60}}, "bob", expected_version=2)
    audit = store.audit()
    assert [a["version"] for a in audit] == [3, 2]  # newest first
    assert audit[0] == {
        "version": 3,
        "who": "bob",
        "when": doc3.updated_at,
        "changes": [{"rule": "velocity", "field": "window_s", "old": window, "new": window + 60}],
    }
    assert {(c["field"], c["old"], c["new"]) for c in audit[1]["changes"]} == {
        ("enabled", defaults.high_amount.enabled, enabled),
        ("threshold", defaults.high_amount.threshold, threshold),
    }
    assert store.audit(limit=1) == audit[:1]


def test_stale_version_is_a_conflict_naming_the_author(store):
    count = store.current().rules.velocity.max_count
    store.update({"velocity": {"max_count": count + 1}}, "alice", 1)
    with pytest.raises(VersionConflict, match="alice") as info:
        store.update({"velocity": {"max_count": count + 2}}, "bob", 1)
    assert info.value.current.version == 2 and info.value.current.rules.velocity.max_count == count + 1
    assert store.current().version == 2 and len(store.audit()) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"high_amount": {"threshold": -5}},
        {"high_amount": {"threshold": "lots"}},
        {"no_such_rule": {"x": 1}},
        {"velocity": {"no_such_field": 1}},
        {"alerting": {"medium_score": 0.99}},  # above high_score
    ],
)
def test_invalid_changes_leave_state_unchanged(store, redis_client, keys, changes):
    before = store.current()
    redis_client.set(keys.seq, 5)
    with pytest.raises(RuleValidationError):
        store.update(changes, "mallory", 1)
    assert store.current() == before and store.audit() == [] and int(redis_client.get(keys.seq)) == 5


def test_no_op_change_and_blank_user(store):
    doc = store.current()
    same = doc.rules.high_amount.threshold
    assert store.update({"high_amount": {"threshold": same}}, "alice", 1) == doc
    assert store.audit() == []
    with pytest.raises(InvalidAction):
        store.update({"high_amount": {"threshold": 6000}}, "", 1)


def test_corrupt_document_raises_instead_of_being_replaced(store, redis_client, keys):
    redis_client.set(
        keys.rules, json.dumps({"version": 3, "rules": {"bogus": {}}, "updated_by": "x", "updated_at": "y"})
    )
    with pytest.raises(RuleValidationError):
        store.current()
    assert b"bogus" in redis_client.get(keys.rules)


def test_throttle_locks_after_max_failures_and_success_clears(redis_client, keys):
    throttle = LoginThrottle(redis_client, keys, max_failures=3, window_s=120)
    assert throttle.check("alice") == 0
    assert [throttle.failure("alice") for _ in range(2)] == [1, 2]
    assert throttle.check("alice") == 0
    throttle.failure("alice")
    wait = throttle.check("alice")
    assert 0 < wait <= 120
    assert throttle.check("bob") == 0  # per identity
    throttle.success("alice")
    assert throttle.check("alice") == 0


def test_throttle_failures_expire_and_long_names_are_bounded(redis_client, keys):
    throttle = LoginThrottle(redis_client, keys, max_failures=1, window_s=60)
    who = "x" * 10_000
    throttle.failure(who)
    assert throttle.check(who) > 0
    stored = list(redis_client.scan_iter(match=f"{keys.prefix}login:fail:*"))
    assert len(stored) == 1 and len(stored[0]) < 200
    assert 0 < redis_client.ttl(stored[0]) <= 60
