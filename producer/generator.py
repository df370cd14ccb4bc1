"""The seeded event stream: normal traffic on a simulated clock with fraud instances mixed in."""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import math
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from common.schema import HEADER_SCENARIO, HEADER_SCENARIO_ID, HEADER_SCENARIO_LAST
from producer.encoding import EventEncoder
from producer.events import GeneratedEvent, PlannedEvent
from producer.normal import NormalTraffic
from producer.scenarios import QUIET_AFTER_MS, SCENARIOS, Instance, make_instance, parse_scenarios
from producer.world import DEFAULT_CARDS, World, currency_for, local_amount

DEFAULT_SIM_RATE = 20.0
DEFAULT_FRAUD_RATIO = 0.02
DEFAULT_START = "2026-01-01T00:00:00Z"  # generate()'s anchor when none is given (reproducible)
_log = math.log


def to_ms(start: datetime | str | int | None) -> int:
    """Epoch milliseconds of an anchor given as datetime, ISO-8601 text or ms (None = DEFAULT_START)."""
    if start is None:
        start = DEFAULT_START
    if isinstance(start, int):
        return start
    if isinstance(start, str):
        start = datetime.fromisoformat(start.replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return int(start.timestamp() * 1000)


class Generator:
    """An endless, deterministic iterator of GeneratedEvent (same arguments => same bytes)."""

    def __init__(  # noqa: PLR0917 - the agreed signature Generator(world, seed, ...)
        self,
        world: World,
        seed: int = 0,
        fraud_ratio: float = DEFAULT_FRAUD_RATIO,
        scenarios: Mapping[str, float] | str | None = None,
        start_ms: int | None = None,
        sim_rate: float = DEFAULT_SIM_RATE,
    ) -> None:
        if not 0.0 <= fraud_ratio < 1.0:
            raise ValueError("fraud_ratio must be in [0, 1)")
        if sim_rate <= 0:
            raise ValueError("sim_rate must be > 0")
        weights = (
            parse_scenarios(scenarios)
            if scenarios is None or isinstance(scenarios, str)
            else {k: float(v) for k, v in scenarios.items() if v > 0}
        )
        unknown = set(weights) - set(SCENARIOS)
        if unknown or not weights:
            raise ValueError(f"bad scenarios {sorted(unknown) or weights}; choose from {SCENARIOS}")
        self.world, self.fraud_ratio, self.sim_rate = world, fraud_ratio, sim_rate
        self.start_ms = to_ms(start_ms)
        self.rng = random.Random(f"gen:{seed}:{self.start_ms}")
        # Ids depend on seed and anchor, so two runs started at different times never collide.
        digest = hashlib.blake2b(f"{seed}:{self.start_ms}:{len(world.cards)}".encode(), digest_size=4)
        self.tag = digest.hexdigest()
        self._names = list(weights)
        self._cum = list(itertools.accumulate(weights[n] for n in self._names))
        self._enc = EventEncoder(world)
        self.normal = NormalTraffic(world, self.rng, self._enc, self.tag)
        self._pending: list[tuple[int, int, PlannedEvent, Instance]] = []
        self._clock = float(self.start_ms)
        self._rand = self.rng.random
        self._mean_gap_ms = 1000.0 / sim_rate
        self._seq = 0
        self._tiebreak = itertools.count()
        self._instances = 0
        self._budget = 0.0
        self._threshold = self.rng.uniform(0.5, 1.5)

    @property
    def clock_ms(self) -> int:
        """Event time reached so far (ms): a run resumed from this one starts after it."""
        return int(self._clock)

    def __iter__(self) -> Iterator[GeneratedEvent]:
        return self

    def __next__(self) -> GeneratedEvent:
        nxt = self._clock - _log(1.0 - self._rand()) * self._mean_gap_ms  # exponential gap
        pending = self._pending
        if pending and pending[0][0] <= nxt:
            ts, _, planned, inst = heapq.heappop(pending)
            self._clock = float(ts)
            out = self._emit(planned, inst)
        else:
            self._clock = nxt
            seq = self._seq = self._seq + 1
            out = self.normal.event(int(nxt), seq)
        self._budget += self.fraud_ratio
        if self._budget >= self._threshold:
            self._start_instance()
        return out

    def take(self, count: int) -> list[GeneratedEvent]:
        """The next `count` events."""
        return [next(self) for _ in range(count)]

    def _emit(self, p: PlannedEvent, inst: Instance) -> GeneratedEvent:
        seq = self._seq = self._seq + 1
        return render(self._enc, self.world, f"{self.tag}-{seq:x}", p, inst)

    def _start_instance(self) -> None:
        rng, now = self.rng, int(self._clock) + 1
        name = self._names[min(bisect.bisect(self._cum, rng.random() * self._cum[-1]), len(self._names) - 1)]
        card = self._fraud_card(name, now)
        if card is None and name == "amount_spike" and len(self._names) > 1:
            # Early on no card has history yet: take another of the chosen scenarios instead.
            name = rng.choice([n for n in self._names if n != "amount_spike"])
            card = self._fraud_card(name, now)
        if card is None:  # nothing idle enough right now: try again after the next event
            return
        self._instances += 1
        sid = f"{self.tag}-f{self._instances}"
        inst = make_instance(name, self.world, rng, card, now, city=self.normal.loc[card], scenario_id=sid)
        self.schedule(inst)
        self._budget -= len(inst.events)
        self._threshold = rng.uniform(0.5, 1.5)

    def schedule(self, inst: Instance) -> None:
        """Queue an instance's events and keep normal traffic off its card until it is plausible."""
        for p in inst.events:
            heapq.heappush(self._pending, (p.ts_ms, next(self._tiebreak), p, inst))
        self.normal.reserve(inst)

    def _fraud_card(self, name: str, now: int) -> int | None:
        """An idle card (amount_spike: one with history); None if none qualifies right now."""
        rng, world, normal = self.rng, self.world, self.normal
        pool = normal.history if name == "amount_spike" else None
        if pool is not None and not pool:
            return None
        for _ in range(50):
            card = (
                pool[int(rng.random() * len(pool))]
                if pool is not None
                else int(rng.random() * len(world.cards))
            )
            if normal.free[card] <= now and now - normal.last[card] >= QUIET_AFTER_MS:
                return card
        return None


def render(enc: EventEncoder, world: World, txn_id: str, p: PlannedEvent, inst: Instance) -> GeneratedEvent:
    """Serialise one planned event of a fraud instance, with its ground-truth headers."""
    currency = currency_for(world, p.card, p.city, p.channel)
    amount = local_amount(world, p.amount, currency)  # planned in US dollars
    value = enc.encode(txn_id, p.ts_ms, p.card, amount, currency, p.merchant, p.city, p.channel)
    headers = [(HEADER_SCENARIO, inst.scenario.encode()), (HEADER_SCENARIO_ID, inst.scenario_id.encode())]
    if p is inst.events[-1]:  # the evaluation counts an instance missed only once it is over
        headers.append((HEADER_SCENARIO_LAST, b"1"))
    return GeneratedEvent(
        value,
        enc.card_keys[p.card],
        headers,
        inst.scenario,
        inst.scenario_id,
        p.ts_ms,
        world.cards[p.card].card_id,
    )


def instance_events(world: World, inst: Instance) -> list[GeneratedEvent]:
    """The records of one instance on its own (for `inject` and tests); txn ids derive from its id."""
    enc = EventEncoder(world)
    return [render(enc, world, f"{inst.scenario_id}-{k}", p, inst) for k, p in enumerate(inst.events)]


def generate(
    *,
    seed: int = 0,
    count: int = 1_000,
    fraud_ratio: float = DEFAULT_FRAUD_RATIO,
    n_cards: int = DEFAULT_CARDS,
    start: datetime | str | int | None = None,
    sim_rate: float = DEFAULT_SIM_RATE,
    scenarios: Mapping[str, float] | str | None = None,
    world: World | None = None,
) -> list[GeneratedEvent]:
    """Generate `count` events (anchored at DEFAULT_START unless `start` is given)."""
    world = world or World.build(seed, n_cards)
    gen = Generator(world, seed, fraud_ratio, scenarios, to_ms(start), sim_rate)
    return gen.take(count)
