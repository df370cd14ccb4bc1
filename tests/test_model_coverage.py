"""Which offsets a serving bridge's history holds per partition, and when a gained partition leaves a hole."""

from __future__ import annotations

from bridge.model_coverage import Coverage, Gap


def test_a_gain_within_the_warm_up_reach_leaves_no_gap() -> None:
    c = Coverage()
    c.read({0: 100, 1: 50})
    c.gained({0: 100, 1: 20})  # resumes at or before what was read: the overlap is counted once
    assert c.gaps() == [] and not c.undecided


def test_a_gain_past_the_reach_is_a_gap_naming_the_missing_offsets() -> None:
    c = Coverage()
    c.read({0: 100, 1: 50})
    c.gained({0: 101, 1: 50, 2: 7})  # partition 2 was empty when read: held up to 0
    assert c.gaps() == [Gap(0, 100, 101), Gap(2, 0, 7)]
    assert str(Gap(0, 100, 1_101)) == "partition 0 resumes at 1,101, history holds it to 100"
    assert not c.undecided  # checked once


def test_gains_wait_for_the_warm_up_reach() -> None:
    c = Coverage()
    c.gained({0: 500})
    assert c.gaps() == [] and c.undecided  # not known yet: neither passed nor refused
    c.read({0: 400})
    assert c.gaps() == [Gap(0, 400, 500)]


def test_a_partition_left_and_regained_is_held_up_to_where_it_was_left() -> None:
    c = Coverage()
    c.read({0: 100})
    c.left({0: 180, 1: None})  # live events added up to 180; partition 1 applied nothing
    c.gained({0: 180, 1: None})  # taken back untouched; None resumes at the log start
    assert c.gaps() == []
    c.left({0: 180})
    c.gained({0: 240})  # another bridge applied 180..239 meanwhile
    assert c.gaps() == [Gap(0, 180, 240)]


def test_a_new_history_holds_nothing_until_read() -> None:
    c = Coverage()
    c.read({0: 100})
    c.gained({0: 150})
    c.clear()
    assert not c.undecided and c.gaps() == []
    c.read({0: 150})
    c.gained({0: 150})
    assert c.gaps() == []


def test_stints_during_a_warm_up_are_checked_in_order_once_its_reach_is_known() -> None:
    """Gained past the reach, left, and taken back where it was left (an eager rebalance revokes
    and reassigns every partition): the first gain's hole is still found."""
    c = Coverage()
    c.gained({0: 500})
    c.left({0: 650})
    c.gained({0: 650})
    c.read({0: 400})
    assert c.gaps() == [Gap(0, 400, 500)]


def test_contiguous_stints_during_a_warm_up_leave_no_gap_but_a_later_jump_does() -> None:
    c = Coverage()
    c.gained({0: 300, 1: 10})
    c.left({0: 650, 1: 40})
    c.gained({0: 650, 1: 90})  # partition 1: another bridge applied 40..89 meanwhile
    c.read({0: 400, 1: 40})
    assert c.gaps() == [Gap(1, 40, 90)]
    c.clear()
    c.gained({0: 300})
    c.left({0: 650})
    c.gained({0: 650})
    c.read({0: 400})
    assert c.gaps() == []
    c.left({0: 700})
    c.gained({0: 760})
    assert c.gaps() == [Gap(0, 700, 760)]
