"""With no list in Redis the watcher still hands the native engine a snapshot, so it decides quiet events."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.detection import Detector
from bridge.rules_watch import RulesWatcher
from producer import generate
from tests.native_gate import needs_native
from tests.test_native_path import CountingDetector, Paths, as_records, batches
from tests.test_native_rules import rule, rules_with_custom

pytestmark = [pytest.mark.integration, needs_native()]


def test_a_list_rule_with_no_list_is_decided_natively_and_alike(redis_client, keys) -> None:
    # `in_list` of a list that does not exist: Python reads "no list" as empty (no country is in it).
    # Without a snapshot the native engine must hand every event to Python (it cannot know); with
    # the watcher's empty one it answers as Python does and keeps the quiet events.
    listed = rule("risky_country", {"field": "country", "op": "in_list", "list": "risky_countries"})
    rules = rules_with_custom([listed], suppress=False)
    paths = Paths(rules)
    watcher = RulesWatcher(redis_client, keys)
    watcher.on_lists = paths.native.set_lists
    watcher.seed()
    assert watcher.lists == {}
    paths.py_detector = Detector(rules, lists=watcher.lists)
    paths.nat_detector = CountingDetector(rules, lists=watcher.lists)
    stream: list[Any] = as_records(generate(seed=11, count=3_000))
    for k, batch in enumerate(batches(stream)):
        paths.step(batch, f"batch {k}")  # asserts the same alerts, rows and states on both paths
    assert paths.scored == 3_000
    assert paths.nat_detector.calls < 1_500  # before: all 3,000 went to Python
