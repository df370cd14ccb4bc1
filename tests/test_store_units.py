"""Pure parts of dashapp.store: reply parsing, freshness classes and workflow transitions."""

from __future__ import annotations

import pytest

from dashapp.store._codec import load_json, opt_float, str_hash, to_float, to_int, valid_stream_id
from dashapp.store.alert_rows import STATUSES, row_from_alert
from dashapp.store.errors import InvalidAction
from dashapp.store.models import freshness
from dashapp.store.workflow import ACTIONS, next_state
from tests.test_store_fixtures import make_alert


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"12", 12),
        ("7", 7),
        (b"12.0", 12),
        (None, 0),
        (b"", 0),
        (b"x", 0),
        (b"nan", 0),
        (b"inf", 0),
        (3, 3),
    ],
)
def test_to_int(raw, expected):
    assert to_int(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"1.5", 1.5),
        (b"-2", -2.0),
        (None, 0.0),
        (b"", 0.0),
        (b"abc", 0.0),
        (b"NaN", 0.0),
        (b"-inf", 0.0),
    ],
)
def test_to_float(raw, expected):
    assert to_float(raw) == expected


def test_optional_and_structured_replies():
    assert opt_float(None) is None and opt_float(b"junk") is None and opt_float(b"0") == 0.0
    assert load_json(b'{"a": 1}') == {"a": 1} and load_json(b"{") is None and load_json(None) is None
    assert str_hash({b"k": b"v", "s": 1}) == {"k": "v", "s": "1"} and str_hash(None) == {}


@pytest.mark.parametrize("cursor", ["0-0", "1790000000000-5", "1790000000000"])
def test_valid_stream_ids(cursor):
    assert valid_stream_id(cursor) == cursor


@pytest.mark.parametrize("cursor", [None, "", "-", "+", "(1-0", "1-x", "1-2-3", 5, "1" * 30])
def test_invalid_stream_ids(cursor):
    assert valid_stream_id(cursor) is None


@pytest.mark.parametrize(
    ("age", "state"),
    [
        (None, "dead"),
        (0.0, "fresh"),
        (4.99, "fresh"),
        (5.0, "stale"),
        (29.9, "stale"),
        (30.0, "dead"),
        (1e6, "dead"),
    ],
)
def test_freshness(age, state):
    assert freshness(age) == state


def _row(status: str, assignee: str = ""):
    return row_from_alert(make_alert(1), status=status, assignee=assignee)


ALLOWED = {
    ("new", "acknowledge"): ("acknowledged", ""),
    ("new", "assign_to_me"): ("assigned", "me"),
    ("new", "resolve_fraud"): ("resolved_fraud", ""),
    ("new", "resolve_false_positive"): ("resolved_false_positive", ""),
    ("acknowledged", "assign_to_me"): ("assigned", "me"),
    ("acknowledged", "resolve_fraud"): ("resolved_fraud", ""),
    ("acknowledged", "resolve_false_positive"): ("resolved_false_positive", ""),
    ("assigned", "assign_to_me"): ("assigned", "me"),  # taking over from "other"
    ("assigned", "resolve_fraud"): ("resolved_fraud", "other"),
    ("assigned", "resolve_false_positive"): ("resolved_false_positive", "other"),
    ("resolved_fraud", "reopen"): ("assigned", "other"),
    ("resolved_false_positive", "reopen"): ("assigned", "other"),
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
def test_transition_table(status, action):
    assignee = "other" if status not in ("new", "acknowledged") else ""
    row = _row(status, assignee)
    if (status, action) in ALLOWED:
        assert next_state(row, action, "me") == ALLOWED[(status, action)]
    else:
        with pytest.raises(InvalidAction):
            next_state(row, action, "me")


def test_reopen_without_assignee_goes_back_to_acknowledged():
    assert next_state(_row("resolved_fraud"), "reopen", "me") == ("acknowledged", "")
