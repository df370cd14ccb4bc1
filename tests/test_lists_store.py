"""ListStore on the real Redis and the pure entry/CSV rules: validation, audit, chunks, the cap."""

from __future__ import annotations

import pytest

from dashapp.store import InvalidAction
from dashapp.store.list_csv import csv_chunks, entries_from_csv
from dashapp.store.list_entries import (
    EntryError,
    EntryIn,
    ListNotFound,
    ListTooLarge,
    entries_from_json,
    format_expiry,
    parse_expiry,
)
from dashapp.store.lists import CHUNK, ListStore

JAN_MS = 1_798_761_600_000  # 2027-01-01T00:00:00Z


# --- pure: entries and CSV ------------------------------------------------------------------------
def test_expiry_parses_iso_utc_and_formats_back() -> None:
    assert parse_expiry("x", "2027-01-01") == JAN_MS
    assert parse_expiry("x", "2027-01-01T00:00:00Z") == JAN_MS
    assert parse_expiry("x", "2027-01-01T01:00:00+01:00") == JAN_MS
    assert parse_expiry("x", " ") is None
    assert format_expiry(JAN_MS) == "2027-01-01T00:00:00Z"
    assert format_expiry(JAN_MS + 5) == "2027-01-01T00:00:00.005Z"
    for bad in ("2027-01-01T00:00:00", "tomorrow", "2027-13-01"):
        with pytest.raises(EntryError):
            parse_expiry("x", bad)


def test_csv_refuses_a_bad_row_by_line_number() -> None:
    good = "value,expires_at,note\nC-1,2027-01-01,travel\nC-2,,\n"
    assert entries_from_csv(good, 10) == [EntryIn("C-1", JAN_MS, "travel"), EntryIn("C-2", None, "")]
    cases = {
        "value,expires_at,note\nC-1,,\nC-2,someday,\n": "line 3: expires_at",
        "value,expires_at,note\nC-1,,\n,,\n": "line 3: value is empty",
        "value,expires_at,note\nC-1,,\nC-1,,\n": "line 3: duplicate value 'C-1' (first at line 2)",
        "value,expires_at,note\nC-1,,\nC-2\n": "line 3: expected 3 fields",
        "value,expires_at,note\n=cmd(),,\n": "line 2: value",
        "card,expires_at\nC-1,\n": "line 1: header",
        "": "line 1: empty",
    }
    for text, message in cases.items():
        with pytest.raises(EntryError) as err:
            entries_from_csv(text, 10)
        assert str(err.value).startswith(message), (text, str(err.value))
    with pytest.raises(EntryError, match="line 4: more than 2"):
        entries_from_csv("value\nA1\nA2\nA3\n", 2)


def test_csv_round_trip_keeps_notes_and_neutralises_formulas() -> None:
    from dashapp.store.list_entries import Stored

    rows = [("C-1", Stored(JAN_MS, "=HYPERLINK(x)", "ann", "t")), ("C-2", Stored(None, 'a, "b"', "ann", "t"))]
    text = "".join(csv_chunks(rows))
    assert text.splitlines()[1] == "C-1,2027-01-01T00:00:00Z,'=HYPERLINK(x)"
    assert entries_from_csv(text, 10) == [
        EntryIn("C-1", JAN_MS, "=HYPERLINK(x)"),
        EntryIn("C-2", None, 'a, "b"'),
    ]


def test_json_entries_name_their_index() -> None:
    assert entries_from_json(["C-1", {"value": "C-2", "note": "n"}], 10) == [
        EntryIn("C-1"),
        EntryIn("C-2", None, "n"),
    ]
    for body, where in (
        ({"value": "x"}, "entries"),
        ([1], "entries[0]"),
        (["a", {"valu": "b"}], "entries[1]"),
    ):
        with pytest.raises(EntryError) as err:
            entries_from_json(body, 10)
        assert err.value.where == where


# --- the store on Redis ------------------------------------------------------------------------------
@pytest.fixture
def lists(redis_client, keys) -> ListStore:
    return ListStore(redis_client, keys, clock=lambda: 1_790_000_000.5)


@pytest.mark.integration
def test_put_add_remove_delete_are_audited_and_bump_versions(lists, redis_client, keys) -> None:
    info = lists.put("snoozed", [EntryIn("C-1", JAN_MS, "travel"), EntryIn("C-2")], "ann", "trip")
    assert (info.name, info.count, info.version) == ("snoozed", 2, 1)
    assert int(redis_client.get(keys.lists_version)) == 1
    assert lists.add("snoozed", [EntryIn("C-3")], "bob").count == 3
    assert lists.remove("snoozed", ["C-1", "C-9"], "bob").count == 2
    rows = lists.get("snoozed")
    assert [v for v, _ in rows] == ["C-2", "C-3"] and rows[1][1].by == "bob"
    assert lists.infos()[0].version == 3 and lists.version() == 3
    lists.delete("snoozed", "ann")
    assert lists.names() == [] and not redis_client.exists(keys.list_entries("snoozed"))
    audit = lists.audit()
    assert [(a["action"], a["who"]) for a in audit] == [
        ("delete", "ann"),
        ("remove", "bob"),
        ("add", "bob"),
        ("put", "ann"),
    ]
    assert audit[3]["values"] == ["C-1", "C-2"] and audit[3]["comment"] == "trip"
    assert audit[3]["when"] == "2026-09-21T14:13:20.500Z"
    with pytest.raises(ListNotFound):
        lists.get("snoozed")
    with pytest.raises(ListNotFound):
        lists.remove("snoozed", ["C-2"], "ann")
    with pytest.raises(InvalidAction):
        lists.put("Bad-Name", [], "ann")


@pytest.mark.integration
def test_an_emptied_list_still_exists(lists) -> None:
    lists.put("deny", [EntryIn("M-1")], "ann")
    lists.remove("deny", ["M-1"], "ann")
    assert lists.names() == ["deny"] and lists.info("deny").count == 0 and lists.get("deny") == []


@pytest.mark.integration
def test_large_writes_go_in_chunks_and_swap_in_whole(lists, redis_client, keys) -> None:
    n = CHUNK * 3 + 7
    entries = [EntryIn(f"C-{i:06d}") for i in range(n)]
    assert lists.put("big", entries, "ann").count == n
    more = [EntryIn(f"D-{i:06d}") for i in range(CHUNK + 1)]
    assert lists.add("big", more, "ann").count == n + CHUNK + 1
    assert lists.remove("big", [e.value for e in more], "ann").count == n
    assert len(lists.get("big")) == n
    assert not list(redis_client.scan_iter(match=keys.list_staging("big", "*")))


@pytest.mark.integration
def test_the_cap_refuses_a_write_and_applies_nothing(redis_client, keys) -> None:
    small = ListStore(redis_client, keys, max_entries=3)
    small.put("deny", [EntryIn("A1"), EntryIn("A2")], "ann")
    with pytest.raises(ListTooLarge):
        small.add("deny", [EntryIn("A3"), EntryIn("A4")], "ann")
    with pytest.raises(ListTooLarge):
        small.put("deny", [EntryIn(f"B{i}") for i in range(4)], "ann")
    assert small.add("deny", [EntryIn("A1"), EntryIn("A3")], "ann").count == 3  # an update is not growth
    assert [v for v, _ in small.get("deny")] == ["A1", "A2", "A3"]
    assert small.version() == 2
    big = ListStore(redis_client, keys, max_entries=CHUNK + 2)
    with pytest.raises(ListTooLarge):  # the chunked path counts the merged result too
        big.add("deny", [EntryIn(f"C{i}") for i in range(CHUNK + 1)], "ann")
    assert big.info("deny").count == 3
