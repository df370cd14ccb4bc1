"""A shadow model beside the champion: one batch's counts, and how the console words them."""

from __future__ import annotations

import numpy as np

from dashapp.views.models_view import live_text
from model.live_compare import FLAG_AT, compare, live_field


def test_a_batch_counts_flags_on_each_side_and_the_score_difference() -> None:
    champion = np.array([0.9, 0.6, 0.2, 0.05, FLAG_AT])
    shadow = np.array([0.8, 0.1, 0.7, 0.05, 0.49])
    got = compare(champion, shadow)
    assert got["events"] == 5
    assert (got["champion_flags"], got["shadow_flags"], got["both_flags"]) == (3, 2, 1)
    assert np.isclose(got["abs_diff"], 0.1 + 0.5 + 0.5 + 0.0 + 0.01)
    assert live_field("v2", "v1", "events") == "v2|v1|events"


def test_the_console_says_how_a_shadow_compares() -> None:
    live = {
        "events": 2_000.0,
        "champion_flags": 30.0,
        "shadow_flags": 41.0,
        "both_flags": 28.0,
        "abs_diff": 50.0,
    }
    assert live_text(live) == "2,000 events; flags 41 vs 30 (both 28); mean |\u0394| 0.025"
    assert live_text(None) == live_text({"events": 0}) == "\u2013"  # nothing scored yet: a dash
