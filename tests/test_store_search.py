"""Alert search over the Redis indexes, card history and bulk actions (real Redis, real writers)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import msgspec
import pytest

from bridge.alert_writes import alert_commands
from bridge.retention import DAY_MS, AlertRetention
from bridge.sink import RedisSink
from common.alerts import Alert
from dashapp.store import AlertWorkflow
from dashapp.store.alert_rows import AlertRow, fetch_rows
from dashapp.store.search import AlertSearch
from dashapp.store.search_query import AlertQuery, InvalidQuery, matches, my_queue, parse_query
from dashapp.store.search_sets import IndexIntersection
from tests.sink_support import commit
from tests.test_store_fixtures import BASE_MS, make_alert, txn_payload

pytestmark = pytest.mark.integration

RULES = ("high_amount", "velocity", "geo_jump")


def corpus(n: int) -> list[Alert]:
    rng = random.Random(9)
    out = []
    for i in range(n):
        base = make_alert(i, rules=tuple(rng.sample(RULES, rng.randint(1, 2))))
        out.append(msgspec.structs.replace(base, card_id=f"card-{i % 13}", merchant_id=f"m-{i % 5}"))
    return out


def write(redis_client, keys, alerts: list[Alert]) -> None:
    """Write alerts with the bridge's writer, in its MULTI, through its sink."""
    commit(RedisSink(redis_client, keys, "t"), alert_commands(keys, alerts, now_ms=BASE_MS), {})


@pytest.fixture
def world(redis_client, keys):
    """300 alerts; a third moved along the workflow by three analysts."""
    alerts = corpus(300)
    write(redis_client, keys, alerts)
    flow = AlertWorkflow(redis_client, keys)
    for i, a in enumerate(alerts):
        user = ("ana", "bo", "cy")[i % 3]
        if i % 3 == 0:
            row = flow.act(a.alert_id, "assign_to_me", user, 1)
            if i % 2:
                flow.act(a.alert_id, "resolve_fraud", user, row.version)
        elif i % 3 == 1:
            flow.act(a.alert_id, "acknowledge", user, 1)
    return AlertSearch(redis_client, keys), flow, alerts


def brute(rows: list[AlertRow], q: AlertQuery) -> list[str]:
    """The ids ``q`` must find, by filtering every row."""
    rows = [r for r in rows if matches(r, q)]
    rows.sort(key=lambda r: r.event_ms, reverse=not q.oldest_first)
    return [r.alert_id for r in rows]


def random_query(rng: random.Random) -> AlertQuery:
    pick = lambda values: rng.choice(["", "", *values])  # noqa: E731
    since = rng.choice([None, BASE_MS + rng.randint(0, 300) * 1000])
    return AlertQuery(
        card=pick([f"card-{i}" for i in range(14)]),
        merchant=pick(["m-1", "m-3", "m-9"]),
        rule=pick(RULES),
        assignee=pick(["ana", "bo", "zed"]),
        status=pick(["new", "acknowledged", "assigned", "resolved_fraud", "open"]),
        since_ms=since,
        until_ms=rng.choice([None, (since or BASE_MS) + rng.randint(0, 200) * 1000]),
        oldest_first=rng.random() < 0.5,
        offset=rng.choice([0, 0, 3]),
        limit=rng.choice([1, 7, 50]),
    )


def test_random_queries_agree_with_filtering_every_alert(redis_client, keys, world) -> None:
    search, _, alerts = world
    rows = fetch_rows(redis_client, keys, [a.alert_id for a in alerts])
    rng = random.Random(4)
    for _ in range(150):
        q = random_query(rng)
        want = brute(rows, q)
        got = search.search(q)
        assert [r.alert_id for r in got.rows] == want[q.offset : q.offset + q.limit], q
        assert got.total == len(want) and got.exact, q
        assert [r.alert_id for r in search.iter_rows(q, chunk=17)] == want, q


def test_single_filters_and_alert_id(world) -> None:
    search, _flow, alerts = world
    got = search.search(AlertQuery(card="card-4", limit=1000))
    assert got.total == len([a for a in alerts if a.card_id == "card-4"]) == len(got.rows)
    assert [r.event_ms for r in got.rows] == sorted((r.event_ms for r in got.rows), reverse=True)
    target = alerts[42]
    assert [r.alert_id for r in search.search(AlertQuery(alert_id=target.alert_id)).rows] == [target.alert_id]
    assert search.search(AlertQuery(alert_id=target.alert_id, status="resolved_fraud")).total == 0
    assert search.search(AlertQuery(alert_id="nope")).rows == ()


def test_my_queue_is_my_open_assignments_oldest_first(redis_client, keys, world) -> None:
    search, _, alerts = world
    rows = search.search(my_queue("ana")).rows
    assert rows and all(r.assignee == "ana" and r.status == "assigned" for r in rows)
    assert [r.event_ms for r in rows] == sorted(r.event_ms for r in rows)
    every = fetch_rows(redis_client, keys, [a.alert_id for a in alerts])
    assert len(rows) == len(brute(every, my_queue("ana")))


def test_my_queue_index_holds_only_open_assignments(redis_client, keys, world) -> None:
    """My queue reads one index of open alerts per assignee (never scans resolved work)."""
    search, flow, alerts = world
    queue = lambda user: {m.decode() for m in redis_client.zrange(keys.alert_queue(user), 0, -1)}  # noqa: E731
    a = alerts[1]  # acknowledged by bo, unassigned
    row = flow.act(a.alert_id, "assign_to_me", "cy", 2)
    assert a.alert_id in queue("cy")
    row = flow.act(a.alert_id, "assign_to_me", "ana", row.version)
    assert a.alert_id not in queue("cy") and a.alert_id in queue("ana")
    total = search.search(my_queue("ana")).total
    flow.act(a.alert_id, "resolve_false_positive", "ana", row.version)
    assert a.alert_id not in queue("ana")
    assert search.search(my_queue("ana")).total == total - 1
    resolved = {r.alert_id for r in fetch_rows(redis_client, keys, [x.alert_id for x in alerts])
                if r.status.startswith("resolved")}  # fmt: skip
    assert not resolved & queue("ana")


def test_a_workflow_change_moves_the_alert_between_status_and_assignee_indexes(world) -> None:
    search, flow, alerts = world
    a = alerts[1]  # acknowledged by bo
    row = flow.act(a.alert_id, "assign_to_me", "cy", 2)
    assert a.alert_id in {r.alert_id for r in search.search(AlertQuery(assignee="cy", limit=1000)).rows}
    assert a.alert_id not in {
        r.alert_id for r in search.search(AlertQuery(status="acknowledged", limit=1000)).rows
    }
    flow.act(a.alert_id, "assign_to_me", "ana", row.version)
    assert a.alert_id not in {r.alert_id for r in search.search(AlertQuery(assignee="cy", limit=1000)).rows}


def test_card_history_lists_the_cards_alerts_and_recent_transactions(redis_client, keys, world) -> None:
    search, _, alerts = world
    for n in range(30):
        redis_client.xadd(keys.txns, {"d": txn_payload(n)})  # card-(n % 7)
    history = search.card_history("card-3", limit=5)
    assert len(history.alerts) == 5 and all(r.card_id == "card-3" for r in history.alerts)
    assert history.alert_total == len([a for a in alerts if a.card_id == "card-3"])
    assert [t.txn_id for t in history.txns] == ["txn-24", "txn-17", "txn-10", "txn-3"]


def test_retention_info_counts_open_alerts_past_the_retention(redis_client, keys, world) -> None:
    search, _, _alerts = world
    assert search.retention(BASE_MS).days is None  # no sweep reported yet
    AlertRetention(redis_client, keys, days=1).sweep(BASE_MS + 2 * DAY_MS)
    info = search.retention(BASE_MS + 2 * DAY_MS)
    assert info.days == 1 and info.swept == 50  # i % 6 == 3: assigned, then resolved
    assert info.kept_unresolved == 250 and search.search(AlertQuery()).total == 250


def test_bulk_action_reports_done_conflicts_and_refusals(world) -> None:
    search, flow, _alerts = world
    new = search.search(AlertQuery(status="new", limit=1000)).rows
    targets = [(r.alert_id, r.version) for r in new]
    flow.act(new[0].alert_id, "acknowledge", "bo", 1)  # someone else got there first
    done = search.search(AlertQuery(status="resolved_fraud", limit=1)).rows[0]
    result = flow.act_many([*targets, (done.alert_id, done.version)], "acknowledge", "ana", note="batch")
    assert len(result.done) == len(new) - 1 and all(r.updated_by == "ana" for r in result.done)
    assert [c[0] for c in result.conflicts] == [new[0].alert_id] and "bo" in result.conflicts[0][1]
    assert [c[0] for c in result.refused] == [done.alert_id]
    assert result.summary() == f"{len(new) - 1} acknowledged, 1 conflicts, 1 refused"
    assert flow.history(new[5].alert_id)[-1]["note"] == "batch"
    assert search.search(AlertQuery(status="new")).total == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"status": "closed"}, "status must be one of"),
        ({"limit": "0"}, "limit must be"),
        ({"since": "yesterday"}, "since must be"),
        ({"since": "2", "until": "1"}, "since must not be after until"),
        ({"alert_id": "a:b"}, "alert_id may hold"),
        ({"card": "x" * 200}, "card is too long"),
        ({"colour": "red"}, "unknown argument"),
        ({"order": "random"}, "order must be"),
    ],
)
def test_bad_query_arguments_are_named(args, message) -> None:
    with pytest.raises(InvalidQuery, match=message):
        parse_query(args)


def test_query_arguments_round_trip() -> None:
    q = parse_query({"card": "c1", "status": "open", "since": "2026-09-21T12:00:00Z", "order": "oldest"})
    assert q.since_ms == datetime(2026, 9, 21, 12, tzinfo=UTC).timestamp() * 1000 and q.oldest_first
    assert parse_query(q.filters()) == q


# --- the multi-filter plan: one Lua call intersects the indexes inside Redis (search_sets) ----------
def _brute_page(sets: list[dict[str, int]], any_of: list[dict[str, int]], lo: int, hi: int) -> list[str]:
    """Members in every set of `sets` and in one of `any_of`, scored in [lo, hi], in (score, id) order."""
    members = set(sets[0]).intersection(*sets[1:]) if sets else set().union(*any_of)
    if any_of:
        members &= set().union(*any_of)
    score = {m: s for d in sets + any_of for m, s in d.items()}
    return sorted((m for m in members if lo <= score[m] <= hi), key=lambda m: (score[m], m))


def test_index_intersection_counts_and_pages_like_brute_force(redis_client, keys) -> None:
    rng = random.Random(11)
    universe = {f"a{i:04d}": BASE_MS + rng.randrange(400) * 1000 for i in range(1500)}  # many ties
    names = [keys.alerts_by_rule(f"r{i}") for i in range(3)] + [keys.alerts_by_status(s) for s in "xyz"]
    content: dict[str, dict[str, int]] = {}
    for i, name in enumerate(names):
        if i < 3:  # rule-like indexes overlap freely; status-like ones are disjoint
            picked = [m for m in universe if rng.random() < (0.7, 0.3, 0.05)[i]]
        else:
            picked = [m for m in universe if int(m[1:]) % 3 == i - 3]
        content[name] = {m: universe[m] for m in picked}
        redis_client.zadd(name, content[name])
    sets_ = IndexIntersection(redis_client)
    before = set(redis_client.keys(f"{keys.prefix}*"))
    for _ in range(120):
        singles = rng.sample(names[:3], rng.randint(0, 3))
        any_of = rng.sample(names[3:], rng.randint(0 if singles else 1, 3))
        if len(singles) + (1 if any_of else 0) < 2 and rng.random() < 0.5:
            any_of = names[3:]
        lo = BASE_MS + rng.randrange(200) * 1000 if rng.random() < 0.5 else "-inf"
        hi = BASE_MS + rng.randrange(200, 400) * 1000 if rng.random() < 0.5 else "+inf"
        want = _brute_page(
            [content[n] for n in singles],
            [content[n] for n in any_of],
            -(2**62) if lo == "-inf" else int(lo),
            2**62 if hi == "+inf" else int(hi),
        )
        newest, offset, limit = rng.random() < 0.5, rng.choice([0, 3, 40]), rng.choice([1, 25, 500])
        count, ids = sets_.page(singles, any_of, (lo, hi), newest_first=newest, offset=offset, limit=limit)
        order = want[::-1] if newest else want
        assert count == len(want), (singles, any_of, lo, hi)
        assert ids == order[offset : offset + limit], (singles, any_of, lo, hi, newest, offset, limit)
    # nothing is stored on the way: no temporary keys to expire or to leak
    assert set(redis_client.keys(f"{keys.prefix}*")) == before


def test_multi_filter_search_counts_exactly_and_pages_from_both_ends(world) -> None:
    search, _flow, _alerts = world
    q = AlertQuery(rule="velocity", status="open", limit=5)
    everything = [r.alert_id for r in search.iter_rows(q)]
    got = search.search(q)
    assert got.exact and got.total == len(everything) and got.total > 10
    assert [r.alert_id for r in got.rows] == everything[:5]
    last = search.search(q.page(got.total - 2, 5))
    assert [r.alert_id for r in last.rows] == everything[-2:]
    oldest = search.search(AlertQuery(rule="velocity", status="open", oldest_first=True, limit=3))
    assert [r.alert_id for r in oldest.rows] == everything[::-1][:3]
