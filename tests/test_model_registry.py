"""The model registry's rules, without I/O: which state changes are allowed and what each one moves."""

from __future__ import annotations

import pytest

from common.model_registry import (
    ALLOWED,
    CANDIDATE,
    CHAMPION,
    MAX_SHADOWS,
    RETIRED,
    SHADOW,
    STATES,
    ModelEntry,
    TransitionError,
    decode_entry,
    encode_entry,
    plan_change,
    rollback_target,
)


def entry(version: str, state: str) -> ModelEntry:
    return ModelEntry(
        version=version,
        state=state,
        sha256="0" * 64,
        size=1,
        registered_by="ann",
        registered_at="2026-12-01T00:00:00.000Z",
        changed_by="ann",
        changed_at="2026-12-01T00:00:00.000Z",
    )


def registry(*entries: ModelEntry) -> dict[str, ModelEntry]:
    return {e.version: e for e in entries}


def test_a_new_champion_retires_the_one_before() -> None:
    reg = registry(entry("a", CHAMPION), entry("b", SHADOW))
    assert plan_change(reg, "b", CHAMPION) == {"b": CHAMPION, "a": RETIRED}
    assert plan_change(registry(entry("b", CANDIDATE)), "b", CHAMPION) == {"b": CHAMPION}


@pytest.mark.parametrize("start", STATES)
@pytest.mark.parametrize("target", STATES)
def test_every_change_is_allowed_or_refused_with_the_reason(start: str, target: str) -> None:
    reg = registry(entry("m", start))
    if target == start:
        with pytest.raises(TransitionError, match=f"already {target}"):
            plan_change(reg, "m", target)
    elif target in ALLOWED[start]:
        assert plan_change(reg, "m", target)["m"] == target
    else:
        with pytest.raises(TransitionError, match=f"is {start}: it can become"):
            plan_change(reg, "m", target)


def test_the_champion_can_only_be_retired_directly() -> None:
    assert ALLOWED[CHAMPION] == (RETIRED,)  # demoting it to shadow would leave no champion unnoticed


def test_unknown_versions_and_states_are_refused() -> None:
    reg = registry(entry("a", CANDIDATE))
    with pytest.raises(TransitionError, match="no model version 'zz'"):
        plan_change(reg, "zz", SHADOW)
    with pytest.raises(TransitionError, match="state must be one of"):
        plan_change(reg, "a", "production")


def test_shadows_are_capped() -> None:
    reg = registry(*(entry(f"s{i}", SHADOW) for i in range(MAX_SHADOWS)), entry("c", CANDIDATE))
    with pytest.raises(TransitionError, match=f"at most {MAX_SHADOWS}"):
        plan_change(reg, "c", SHADOW)
    reg.pop("s0")
    assert plan_change(reg, "c", SHADOW) == {"c": SHADOW}


def test_rollback_walks_back_along_the_champion_history() -> None:
    reg = registry(entry("a", RETIRED), entry("b", RETIRED), entry("c", CHAMPION), entry("never", RETIRED))
    assert rollback_target(reg, ["a", "b", "c"]) == ("b", 2)
    # a version champion twice: rolling back from its second time goes to the one between
    reg = registry(entry("a", CHAMPION), entry("b", RETIRED))
    assert rollback_target(reg, ["a", "b", "a"]) == ("b", 2)
    assert rollback_target(registry(entry("a", RETIRED), entry("b", CHAMPION)), ["a", "b"]) == ("a", 1)
    # a version deleted since is skipped
    reg = registry(entry("a", RETIRED), entry("c", CHAMPION))
    assert rollback_target(reg, ["a", "gone", "c"]) == ("a", 1)


def test_rollback_without_an_earlier_champion_is_refused() -> None:
    with pytest.raises(TransitionError, match="no champion"):
        rollback_target(registry(entry("a", RETIRED)), ["a"])
    with pytest.raises(TransitionError, match="first champion"):
        rollback_target(registry(entry("a", CHAMPION), entry("b", CANDIDATE)), ["a"])
    with pytest.raises(TransitionError, match="does not end with the champion a"):
        rollback_target(registry(entry("a", CHAMPION), entry("b", RETIRED)), ["a", "b"])


def test_entries_round_trip_and_bad_ones_are_named() -> None:
    e = entry("a", SHADOW)
    assert decode_entry(encode_entry(e)) == e
    with pytest.raises(TransitionError, match="unreadable"):
        decode_entry(b"{not json")
    with pytest.raises(TransitionError, match="unknown state 'production'"):
        decode_entry(encode_entry(entry("a", CHAMPION)).replace(b'"champion"', b'"production"'))
