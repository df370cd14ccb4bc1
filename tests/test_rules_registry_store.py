"""RulesStore as a registry on the real Redis: publish, versions, diff, restore, lists in use."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from common.keys import RULE_VERSIONS_MAX
from common.rulelang import parse_document, to_document
from common.rules import RuleValidationError, default_rules
from common.rules_doc import decode_rules_doc
from dashapp.store import InvalidAction, RulesStore, VersionConflict
from dashapp.store.list_entries import EntryIn, ListInUse
from dashapp.store.lists import ListStore
from dashapp.store.rule_versions import VersionNotFound, lists_used

pytestmark = pytest.mark.integration

ONLINE_RULE: dict[str, Any] = {
    "id": "online_big",
    "name": "Online big",
    "description": "Card-not-present purchase over $1,500.",
    "enabled": True,
    "score": 0.8,
    "when": {
        "all": [
            {"field": "channel", "op": "eq", "value": "online"},
            {"field": "amount_usd", "op": "gt", "value": 1500, "as": "spent"},
        ]
    },
    "explain": "online {amount}",
}


def with_rule(*rules: dict[str, Any], suppressions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    doc = to_document(default_rules())
    doc["rules"].extend(copy.deepcopy(list(rules)))
    doc["suppressions"] = suppressions or []
    return doc


@pytest.fixture
def store(redis_client, keys) -> RulesStore:
    return RulesStore(redis_client, keys, clock=lambda: 1_790_000_000.5)


@pytest.fixture
def lists(redis_client, keys, store) -> ListStore:
    return ListStore(redis_client, keys, in_use=store.lists_in_use)


def test_publish_makes_a_version_with_author_comment_and_document(store, redis_client, keys):
    redis_client.set(keys.seq, 5)
    doc = store.publish(with_rule(ONLINE_RULE), "ann", "online electronics", expected_version=1)
    assert (doc.version, doc.updated_by) == (2, "ann")
    assert [r.id for r in doc.rules.custom] == ["online_big"]
    assert decode_rules_doc(redis_client.get(keys.rules)) == doc  # what the bridges read
    assert int(redis_client.get(keys.seq)) == 6
    record = store.version(2)
    assert (record.author, record.comment, record.at) == ("ann", "online electronics", doc.updated_at)
    assert parse_document(record.document) == doc.rules
    # the seeded version 1 got its record in the same transaction: the history starts at the defaults
    assert parse_document(store.version(1).document) == default_rules()
    assert [(v.version, v.author, v.document) for v in store.versions()] == [
        (2, "ann", None),
        (1, "system", None),
    ]
    audit = store.audit()[0]
    assert (audit["version"], audit["who"], audit["comment"]) == (2, "ann", "online electronics")
    assert audit["changes"] and audit["changes"][0]["rule"] == "online_big"


def test_publish_accepts_a_config_and_the_get_form_with_its_version(store):
    cfg = parse_document(with_rule(ONLINE_RULE))
    assert store.publish(cfg, "ann").version == 2
    assert store.document()["version"] == 2
    assert store.publish(store.document(), "bob").version == 2  # nothing changed: no new version
    assert len(store.versions()) == 2


def test_invalid_document_changes_nothing_and_names_the_path(store, redis_client, keys):
    store.current()
    before = (redis_client.get(keys.rules), redis_client.hgetall(keys.rule_versions), store.audit())
    bad = copy.deepcopy(ONLINE_RULE)
    bad["when"]["all"][1]["value"] = "abc"
    with pytest.raises(RuleValidationError) as err:
        store.publish(with_rule(bad), "ann")
    assert err.value.path == "rules[7].when.all[1].value"
    assert str(err.value).startswith("rules[7].when.all[1].value:")
    with pytest.raises(RuleValidationError, match=r"suppressions\[0\]\.list"):
        store.publish(with_rule(suppressions=[{"list": "nope", "field": "card_id", "rules": ["*"]}]), "ann")
    assert (redis_client.get(keys.rules), redis_client.hgetall(keys.rule_versions), store.audit()) == before


def test_compare_and_set_refuses_a_stale_version(store):
    store.publish(with_rule(ONLINE_RULE), "ann")
    with pytest.raises(VersionConflict) as err:
        store.publish(with_rule(), "bob", expected_version=1)
    assert err.value.current_version == 2 and err.value.changed_by == "ann"
    with pytest.raises(InvalidAction):
        store.publish(with_rule(), " ", "blank author")
    with pytest.raises(InvalidAction):
        store.publish(with_rule(), "bob", "x" * 501)
    assert store.current().version == 2


def test_threshold_editor_changes_become_versions(store):
    store.current()
    limit = default_rules().high_amount.threshold + 100
    store.update({"high_amount": {"threshold": limit}}, "ann", 1)
    record = store.version(2)
    assert record.author == "ann"
    assert parse_document(record.document).high_amount.threshold == limit
    assert store.diff(1, 2) == [
        {
            "rule": "high_amount",
            "field": "threshold",
            "old": default_rules().high_amount.threshold,
            "new": limit,
        }
    ]


def test_restore_is_a_new_version_with_the_old_document(store):
    store.publish(with_rule(ONLINE_RULE), "ann", "add")
    doc = store.restore(1, "bob")
    assert doc.version == 3 and doc.rules == default_rules()
    record = store.version(3)
    assert (record.restored_from, record.comment, record.author) == (1, "restore of version 1", "bob")
    assert store.audit()[0]["restored_from"] == 1
    assert [c["rule"] for c in store.diff(2, 3)] == ["online_big"]
    with pytest.raises(VersionNotFound):
        store.restore(9, "bob")
    with pytest.raises(VersionNotFound):
        store.version("x1")


def test_history_is_bounded(store, redis_client, keys):
    store.current()
    live = decode_rules_doc(redis_client.get(keys.rules))
    redis_client.set(
        keys.rules, msgspec.json.encode(msgspec.structs.replace(live, version=RULE_VERSIONS_MAX))
    )
    redis_client.hset(keys.rule_versions, "1", b"{}")
    store.publish(with_rule(ONLINE_RULE), "ann")  # version RULE_VERSIONS_MAX + 1 drops version 1
    assert not redis_client.hexists(keys.rule_versions, "1")
    assert [v.version for v in store.versions(limit=5)] == [RULE_VERSIONS_MAX + 1, RULE_VERSIONS_MAX]


def test_a_list_used_by_a_rule_or_suppression_cannot_be_deleted(store, lists):
    lists.put("deny_merchants", [EntryIn("M-1")], "ann")
    lists.put("snoozed", [], "ann")
    deny = copy.deepcopy(ONLINE_RULE)
    deny["when"]["all"].append({"field": "merchant_id", "op": "in_list", "list": "deny_merchants"})
    sup = [{"list": "snoozed", "field": "card_id", "rules": ["*"]}]
    store.publish(with_rule(deny, suppressions=sup), "ann")
    assert lists_used(store.current().rules) == {
        "deny_merchants": ["rule online_big"],
        "snoozed": ["suppressions[0]"],
    }
    for name, user in (("deny_merchants", "rule online_big"), ("snoozed", "suppressions[0]")):
        with pytest.raises(ListInUse, match=user.replace("[", r"\[")):
            lists.delete(name, "ann")
    assert lists.names() == ["deny_merchants", "snoozed"]
    store.restore(1, "ann")
    lists.delete("snoozed", "ann")
    assert lists.names() == ["deny_merchants"]
    with pytest.raises(RuleValidationError, match="snoozed"):
        store.restore(2, "ann")  # its suppression names a list that is gone: refused, nothing changed
    assert store.current().version == 3
