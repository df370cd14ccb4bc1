"""Shadow set on real Redis and the real app: publish, drop and promote audited (history + event),
version-checked (a stale shadow id refused, nothing changed), admins only; the report's pure parts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import redis

from bridge.shadow_plan import fire_fields
from common.alert_events import decode_event, with_id
from common.alerts import Alert, Reason
from common.keys import RedisKeys
from common.rulelang import parse_document, to_document
from common.rules import RuleValidationError, default_rules
from common.shadow_doc import Pair, history_gaps
from dashapp.store.errors import VersionConflict
from dashapp.store.rules_store import RulesStore
from dashapp.store.shadow_report import compare, fires_rows, truth_rows
from dashapp.store.shadow_store import NoShadow, ShadowStore, UnreadableShadow
from outbox.rebuild import Replayer
from tests.test_backtest import planted_draft
from tests.test_outbox_store import outbox
from tests.test_rules_registry_api import auth, http, users_file

__all__ = ["http", "users_file"]  # fixtures


def stores(client: redis.Redis, keys: RedisKeys) -> tuple[RulesStore, ShadowStore]:
    rules = RulesStore(client, keys)
    return rules, ShadowStore(client, keys, rules)


@pytest.mark.integration
def test_publish_then_promote_is_one_audited_rules_publish_and_clears_the_shadow(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    rules, shadow = stores(redis_client, keys)
    live = rules.current()
    doc = shadow.publish(planted_draft(), "root", "try the planted rule", expected=0)
    assert (doc.id, doc.base_version, doc.by) == (1, live.version, "root")
    redis_client.hset(keys.shadow_pairs, "a1", b"{}")  # findings a bridge wrote meanwhile
    counted = {"events:1": 5, "fires:1:new:shadow": 2, "fires:0:x:live": 1}  # fires:0: a straggler
    redis_client.hset(keys.shadow_stats, mapping=counted)
    with pytest.raises(VersionConflict):
        shadow.promote("root", "", expected=2)  # stale: not the shadow reviewed
    assert rules.current().version == live.version and shadow.current() == doc

    _, promoted = shadow.promote("root", "ship it", expected=1)
    assert promoted.version == live.version + 1
    assert rules.current().rules == doc.rules
    assert shadow.current() is None
    assert not redis_client.exists(keys.shadow_pairs)
    left = {k.decode() for k in redis_client.hkeys(keys.shadow_stats)}
    assert not {f for f in left if f.startswith(("events:", "fires:"))}  # this shadow's and a straggler's
    assert [e["action"] for e in shadow.history()] == ["promoted", "published"]
    assert rules.version(promoted.version).comment == "ship it"
    assert rules.audit(1)[0]["version"] == promoted.version
    events = outbox(redis_client, keys)
    assert [(e["kind"], e["after"].get("action")) for e in events] == [
        ("shadow.changed", "published"),
        ("rules.published", None),
        ("shadow.changed", "promoted"),
    ]
    assert events[1]["after"]["document"] == to_document(doc.rules)
    with pytest.raises(NoShadow):
        shadow.promote("root", "", expected=1)


@pytest.mark.integration
def test_promote_is_refused_when_the_live_rules_moved_after_the_shadow_was_published(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    rules, shadow = stores(redis_client, keys)
    doc = shadow.publish(planted_draft(), "root", "try the planted rule")
    changed = to_document(rules.current().rules)
    next(r for r in changed["rules"] if r["id"] == "velocity")["params"]["max_count"] = 9
    moved = rules.publish(changed, "bob", "tighter velocity")  # a live change after the shadow
    with pytest.raises(VersionConflict, match=r"would undo that change") as info:
        shadow.promote("root", "ship it", expected=doc.id)
    assert (info.value.current_version, info.value.changed_by) == (moved.version, "bob")
    assert rules.current().version == moved.version and rules.current().rules == moved.rules
    assert shadow.current() == doc  # nothing lost: the shadow stays to be redone or dropped


@pytest.mark.integration
def test_drop_is_audited_and_version_checked_and_ids_never_repeat(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    rules, shadow = stores(redis_client, keys)
    first = shadow.publish(to_document(default_rules()), "root")
    with pytest.raises(VersionConflict):
        shadow.publish(planted_draft(), "root", expected=0)  # someone published one meanwhile
    with pytest.raises(VersionConflict):
        shadow.drop("root", expected=first.id + 1)
    assert shadow.current() == first
    assert shadow.drop("root", "not now", expected=first.id) == first
    assert shadow.current() is None
    with pytest.raises(NoShadow):
        shadow.drop("root")
    assert shadow.history(1)[0] | {"when": ""} == {
        "action": "dropped", "id": first.id, "who": "root", "when": "", "comment": "not now"
    }  # fmt: skip
    assert [e["kind"] for e in outbox(redis_client, keys)][-1] == "shadow.changed"
    assert shadow.publish(planted_draft(), "root").id == first.id + 1
    assert rules.current().version == 1  # neither publish nor drop touched the live rules


@pytest.mark.integration
def test_a_stored_shadow_that_cannot_be_read_can_still_be_dropped_or_replaced(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    _, shadow = stores(redis_client, keys)
    first = shadow.publish(planted_draft(), "root")
    redis_client.set(keys.shadow_rules, b'{"id": 1, "rules": {"no such": "shape"}}')  # a hand edit
    with pytest.raises(UnreadableShadow, match=r"cannot be read.*drop it") as info:
        shadow.current()
    assert info.value.shadow_id == first.id
    with pytest.raises(UnreadableShadow):
        shadow.promote("root", "", expected=first.id)  # nothing readable to make live
    assert shadow.drop("root", "broken", expected=first.id).id == first.id
    assert shadow.current() is None and shadow.history(1)[0]["action"] == "dropped"

    redis_client.set(keys.shadow_rules, b"not json")
    assert shadow.publish(planted_draft(), "root").id == first.id + 1  # publishing over it works too
    assert shadow.current() is not None


@pytest.mark.integration
def test_an_invalid_document_is_refused_and_nothing_is_stored(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    _, shadow = stores(redis_client, keys)
    doc = planted_draft()
    doc["rules"][-1]["when"]["value"] = 5
    with pytest.raises(RuleValidationError) as info:
        shadow.publish(doc, "root")
    assert info.value.path.startswith("rules[7].when")
    assert shadow.current() is None and shadow.history() == [] and outbox(redis_client, keys) == []


@pytest.mark.integration
def test_http_roles_etag_and_stale_ids(http: Any) -> None:
    assert http.get("/api/rules/shadow", headers=auth("ann")).get_json()["shadow"] is None
    for bad in ("", "[1, 2]", "rules: 5", '{"rules": [{"id": "x"}]}', "\x00\x01"):
        resp = http.put("/api/rules/shadow", data=bad, content_type="application/json", headers=auth())
        assert resp.status_code == 400 and resp.get_json()["error"], bad
    assert http.delete("/api/rules/shadow", headers=auth()).status_code == 404
    assert http.put("/api/rules/shadow", json=planted_draft(), headers=auth("ann")).status_code == 403
    put = http.put("/api/rules/shadow", json=planted_draft(), headers=auth())
    assert put.status_code == 200 and put.headers["ETag"] == '"1"'
    got = http.get("/api/rules/shadow", headers=auth("ann")).get_json()
    assert got["shadow"]["id"] == 1 and got["events"] == 0 and got["rules"] == []
    assert http.post("/api/rules/shadow/promote", headers=auth()).status_code == 428
    assert http.post("/api/rules/shadow/promote", headers={**auth(), "If-Match": '"9"'}).status_code == 409
    assert http.delete("/api/rules/shadow", headers=auth("ann")).status_code == 403
    promoted = http.post("/api/rules/shadow/promote", headers={**auth(), "If-Match": '"1"'}).get_json()
    assert promoted["promoted"] == 1 and promoted["version"] == 2
    assert http.delete("/api/rules/shadow", headers=auth()).status_code == 404


def _alert(aid: str, *rules: str) -> Alert:
    return Alert(
        alert_id=aid, txn_id="t", ts="2026-01-01T00:00:00Z", event_ms=0, card_id="c", account_id="a",
        amount=1.0, currency="USD", merchant_id="m", merchant_category="x", city="X", country="GB",
        lat=None, lon=None, channel="pos", score=0.9, severity="high",
        reasons=tuple(Reason(rule=r, text=r, observed=1.0, limit=0.0) for r in rules), rules_version=1,
    )  # fmt: skip


def test_fires_come_from_the_exact_counters_of_the_current_shadow_only() -> None:
    stats = {"fires:3:*:both": 4, "fires:3:*:shadow": 2, "fires:3:new:shadow": 2, "fires:3:old:live": 1,
             "fires:2:new:shadow": 99, "events:3": 100, "last_id": 3}  # fmt: skip
    rows = fires_rows(stats, 3)
    assert rows["*"] == {"live": 4, "shadow": 6, "overlap": 4, "added": 2, "removed": 0}
    assert rows["new"] == {"live": 0, "shadow": 2, "overlap": 0, "added": 2, "removed": 0}
    assert rows["old"] == {"live": 1, "shadow": 0, "overlap": 0, "added": 0, "removed": 1}


def test_quality_per_side_from_truth_and_dispositions() -> None:
    pairs = [
        Pair(shadow=1, record_ms=1, scenario="normal", live=_alert("a", "old"), alert=None),
        Pair(shadow=1, record_ms=2, scenario="card_testing", scenario_id="i1", alert=_alert("b", "new")),
        Pair(
            shadow=1, record_ms=3, scenario="card_testing", live=_alert("c", "old"), alert=_alert("c", "new")
        ),
    ]
    out = compare(pairs, {"c": "resolved_fraud", "a": "resolved_false_positive"})
    assert out["quality"]["new"]["shadow"]["precision"] == 1.0
    assert out["quality"]["old"]["live"]["precision"] == 0.5
    assert out["quality"]["old"]["live"]["analyst_precision"] == 0.5
    assert out["quality"]["new"]["shadow"]["analyst_precision"] == 1.0  # c was worked: same transaction
    assert [s["alert_id"] for s in out["shadow_only"]] == ["b"]
    assert [s["alert_id"] for s in out["live_only"]] == ["a"]


def test_exact_precision_from_the_bridges_counters_equals_the_sampled_one_over_the_same_pairs() -> None:
    """What fire_fields counts per pair, truth_rows reads back as compare() computes it from the pairs."""

    def pair(ms: int, scenario: str | None, live: Alert | None, shadow: Alert | None) -> Pair:
        return Pair(shadow=3, record_ms=ms, scenario=scenario, scenario_id=None, live=live, alert=shadow)

    pairs = [
        pair(1, "normal", _alert("a", "old"), None),
        pair(2, "card_testing", None, _alert("b", "new")),
        pair(3, "card_testing", _alert("c", "old"), _alert("c", "new")),
        pair(4, "normal", _alert("d", "old"), _alert("d", "new", "old")),
        pair(5, None, _alert("e", "old"), _alert("e", "new")),  # unlabelled: no truth counter
    ]
    stats = Counter(f for p in pairs for f in fire_fields(3, p))
    stats["truth:2:new:shadow:fp"] = 50  # another shadow's counters are not this one's
    exact, sampled = truth_rows(stats, 3), compare(pairs, {})["quality"]
    assert exact["new"] == {"live": None, "shadow": 0.6667}
    assert exact["old"] == {"live": 0.3333, "shadow": 0.0}
    for rule in ("*", "new", "old"):
        for side in ("live", "shadow"):
            assert exact[rule][side] == sampled[rule][side]["precision"], (rule, side)


def test_history_the_live_state_does_not_keep_is_named() -> None:
    live = default_rules()
    assert history_gaps(live, live) == []
    doc = to_document(live)
    doc["rules"].append(
        {"id": "many", "score": 0.6, "explain": "x",
         "when": {"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 4}}
    )  # fmt: skip
    velocity = next(r for r in doc["rules"] if r["id"] == "velocity")
    velocity["params"]["window_s"] = live.velocity.window_s * 2
    gaps = history_gaps(live, parse_document(doc))
    assert any("hist_country" in g for g in gaps) and any("86,400 s" in g for g in gaps)
    assert any(g.startswith("velocity window") for g in gaps)
    assert history_gaps(parse_document(doc), live) == []  # the live set keeps more: nothing missing


@pytest.mark.integration
def test_the_outbox_rebuild_replays_a_promote_as_the_rules_version_and_restores_no_shadow(
    redis_client: redis.Redis, keys: RedisKeys, redis_prefix: str
) -> None:
    _, shadow = stores(redis_client, keys)
    doc = shadow.publish(planted_draft(), "root", "trial")
    shadow.promote("root", "ship it", expected=doc.id)
    shadow.publish(to_document(default_rules()), "root", "next trial")  # still on at the wipe
    entries: Any = redis_client.xrange(keys.events_outbox)
    events = [with_id(decode_event(f[b"e"]), i.decode()) for i, f in entries]

    fresh = RedisKeys(f"{redis_prefix}rebuilt:")  # deleted with the test's prefix
    counts = Replayer(redis_client, fresh).apply_all(events)
    assert counts["events_failed"] == 0 and counts["rules_events"] == 1
    rebuilt = RulesStore(redis_client, fresh).current()
    assert rebuilt.rules == doc.rules and rebuilt.updated_by == "root"
    assert not redis_client.exists(fresh.shadow_rules)  # a shadow is a trial, not state to restore
