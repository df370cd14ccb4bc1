"""Card whereabouts across producer runs: a restart must not teleport any card holder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from common.schema import decode_event
from producer import Generator, World
from producer.normal import NormalTraffic
from producer.scenarios import flight_ms
from producer.whereabouts import apply, load, save

START = 1_790_000_000_000
WORLD_SEED = 0


def _located(gen: Generator, n: int) -> list[tuple[str, int, str]]:
    """(card, ts_ms, city) of the normal events among the next n."""
    out = []
    for ev in gen.take(n):
        if ev.scenario_id is None:
            event = decode_event(ev.value)
            out.append((event.card_id, ev.ts_ms, event.city))
    return out


Located = list[tuple[str, int, str]]


def restore(path: Path, world_seed: int, normal: NormalTraffic) -> bool:
    """What the CLI does at start: load the file for this world and, if it fits, apply it."""
    saved = load(path, world_seed, normal.world)
    if saved is not None:
        apply(saved, normal)
    return saved is not None


def _teleports(world: World, before: Located, after: Located) -> list[str]:
    """Cards whose first event after the restart is farther from their last one than a flight allows."""
    index = {c.name: i for i, c in enumerate(world.cities)}
    last = {card: (ts, city) for card, ts, city in before}
    seen, bad = set(), []
    for card, ts, city in after:
        if card in seen or card not in last:
            continue
        seen.add(card)
        then, where = last[card]
        if ts - then < flight_ms(world.dist_km[index[where]][index[city]]):
            bad.append(f"{card}: {where} -> {city} in {(ts - then) / 60_000:.0f} min")
    return bad


def _two_runs(tmp_path: Path, keep: bool) -> tuple[World, list, list]:
    world = World.build(WORLD_SEED, 2_000)
    first = Generator(world, 1, fraud_ratio=0.0, start_ms=START)
    before = _located(first, 20_000)  # ~10 events per card: some holders are away
    path = tmp_path / "cards.json"
    save(path, WORLD_SEED, first.clock_ms, first.normal)
    second = Generator(world, 2, fraud_ratio=0.0, start_ms=before[-1][1] + 60_000)  # restarted a minute later
    if keep:
        assert restore(path, WORLD_SEED, second.normal)
    return world, before, _located(second, 20_000)


def test_a_restarted_stream_continues_every_card_where_it_was(tmp_path: Path) -> None:
    world, before, after = _two_runs(tmp_path, keep=True)
    assert _teleports(world, before, after) == []


def test_without_the_file_travelling_cards_jump_home(tmp_path: Path) -> None:
    # the hazard the file removes: this is what the bridge saw after every restart
    world, before, after = _two_runs(tmp_path, keep=False)
    assert _teleports(world, before, after), "no card was away: the test above proves nothing"


def test_a_file_for_another_world_or_a_broken_file_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World.build(WORLD_SEED, 60)
    gen = Generator(world, 1, start_ms=START)
    gen.take(500)
    path = tmp_path / "cards.json"
    save(path, WORLD_SEED, gen.clock_ms, gen.normal)
    fresh = Generator(World.build(WORLD_SEED, 61), 2, start_ms=START)
    caplog.set_level(logging.WARNING)
    assert not restore(path, WORLD_SEED, fresh.normal)  # 61 cards, file has 60
    assert not restore(path, WORLD_SEED + 1, Generator(world, 2, start_ms=START).normal)
    path.write_bytes(b'{"world_seed": 0, "owner": [')
    assert not restore(path, WORLD_SEED, Generator(world, 2, start_ms=START).normal)
    assert not restore(tmp_path / "missing.json", WORLD_SEED, fresh.normal)
    assert caplog.text.count("ignored") == 3


def test_a_file_with_times_far_ahead_of_its_clock_is_ignored(tmp_path: Path) -> None:
    # a card whose `free` lay years ahead would be skipped for ever (and the loop would spin
    # when every card is): such a file is refused, not adopted
    world = World.build(WORLD_SEED, 60)
    gen = Generator(world, 1, start_ms=START)
    gen.take(500)
    path = tmp_path / "cards.json"
    gen.normal.free[:] = [gen.clock_ms + 10**12] * len(gen.normal.free)
    save(path, WORLD_SEED, gen.clock_ms, gen.normal)
    assert not restore(path, WORLD_SEED, Generator(world, 2, start_ms=START).normal)
    gen.normal.free[:] = [0] * len(gen.normal.free)
    save(path, WORLD_SEED, gen.clock_ms, gen.normal)
    assert restore(path, WORLD_SEED, Generator(world, 2, start_ms=START).normal)


class _Bridge:
    """The detector over a stream with card states kept between runs, as the bridge keeps them in Redis."""

    def __init__(self) -> None:
        from bridge.detection import Detector
        from common.rules import default_rules

        self.detector, self.states, self.newest_ms = Detector(default_rules()), dict[str, Any](), 0

    def false_travel_alerts(self, gen: Generator, n: int) -> int:
        """impossible_travel alerts raised on normal (unlabelled) events among the next n."""
        false = 0
        for ev in gen.take(n):
            event = decode_event(ev.value)
            decision, self.states[event.card_id] = self.detector.evaluate(
                event, self.states.get(event.card_id)
            )
            rules = {r.rule for r in decision.reasons} if decision.is_alert else set()
            false += ev.scenario_id is None and "impossible_travel" in rules
            self.newest_ms = max(self.newest_ms, ev.ts_ms)
        return false


@pytest.mark.parametrize("keep", [True, False])
def test_the_detector_sees_no_false_travel_across_a_restart(tmp_path: Path, keep: bool) -> None:
    """Clones used abroad just before the stop: their holders must not resume in the clone's city."""
    world, path, bridge = World.build(WORLD_SEED, 300), tmp_path / "cards.json", _Bridge()
    mix = {"impossible_travel": 1.0}
    first = Generator(world, 1, fraud_ratio=0.05, scenarios=mix, start_ms=START)
    assert bridge.false_travel_alerts(first, 10_000) == 0  # one run is consistent on its own
    save(path, WORLD_SEED, first.clock_ms, first.normal)
    second = Generator(world, 2, fraud_ratio=0.05, scenarios=mix, start_ms=bridge.newest_ms + 60_000)
    if keep:
        assert restore(path, WORLD_SEED, second.normal)
    false = bridge.false_travel_alerts(second, 10_000)
    assert (false == 0) == keep, (
        f"{false} false impossible_travel alerts after the restart (file kept: {keep})"
    )
