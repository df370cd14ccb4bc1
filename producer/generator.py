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

from common.schema import HEADER_SCENARIO, HEADER_SCENARIO_ID, NORMAL_SCENARIO
from producer.encoding import EventEncoder
from producer.events import GeneratedEvent, PlannedEvent
from producer.scenarios import SCENARIOS, Instance, flight_ms, make_instance, parse_scenarios
from producer.world import DEFAULT_CARDS, World, currency_for

DEFAULT_SIM_RATE = 20.0
DEFAULT_FRAUD_RATIO = 0.02
DEFAULT_START = "2026-01-01T00:00:00Z"  # generate()'s anchor when none is given (reproducible)
MIN_HISTORY = 5  # normal transactions a card needs before it can carry an amount_spike
_NORMAL_HEADER = (HEADER_SCENARIO, NORMAL_SCENARIO.encode())
_bisect = bisect.bisect
_exp = math.exp


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
        self, world: World, seed: int = 0, fraud_ratio: float = DEFAULT_FRAUD_RATIO,
        scenarios: Mapping[str, float] | str | None = None, start_ms: int | None = None,
        sim_rate: float = DEFAULT_SIM_RATE,
    ) -> None:
        if not 0.0 <= fraud_ratio < 1.0:
            raise ValueError("fraud_ratio must be in [0, 1)")
        if sim_rate <= 0:
            raise ValueError("sim_rate must be > 0")
        weights = parse_scenarios(scenarios) if scenarios is None or isinstance(scenarios, str) \
            else {k: float(v) for k, v in scenarios.items() if v > 0}
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
        n = len(world.cards)
        self._owner = [c.home for c in world.cards]  # where the card's holder is
        self._loc = list(self._owner)  # city of the card's last located event
        self._last = [-(10**15)] * n  # ts of that event
        self._free = [0] * n  # no normal traffic before this ts (fraud in progress)
        self._count = [0] * n  # normal transactions so far
        self._history: list[int] = []  # cards with >= MIN_HISTORY normal transactions
        self._flight = [[flight_ms(km) for km in row] for row in world.dist_km]
        cards = world.cards
        self._home = [c.home for c in cards]
        self._p_trip = [c.p_trip for c in cards]
        self._p_atm = [c.p_atm for c in cards]
        self._p_card_absent = [c.p_atm + c.p_online for c in cards]
        self._median = [c.median for c in cards]
        self._sigma = [c.sigma for c in cards]
        self._cap = [c.cap for c in cards]
        self._card_ids = [c.card_id for c in cards]
        self._keys = self._enc.card_keys
        self._currency = [c.currency for c in world.cities]
        self._home_currency = [self._currency[c.home] for c in cards]
        self._level = [m.level for m in world.merchants]
        self._online, self._n_online = world.online, len(world.online)
        self._pending: list[tuple[int, int, PlannedEvent, Instance]] = []
        self._clock = float(self.start_ms)
        self._seq = 0
        self._tiebreak = itertools.count()
        self._instances = 0
        self._budget = 0.0
        self._threshold = self.rng.uniform(0.5, 1.5)

    def __iter__(self) -> Iterator[GeneratedEvent]:
        return self

    def __next__(self) -> GeneratedEvent:
        nxt = self._clock + self.rng.expovariate(self.sim_rate) * 1000.0
        pending = self._pending
        if pending and pending[0][0] <= nxt:
            ts, _, planned, inst = heapq.heappop(pending)
            self._clock = float(ts)
            out = self._emit(planned, inst)
        else:
            self._clock = nxt
            out = self._normal(int(nxt))
        self._budget += self.fraud_ratio
        if self._budget >= self._threshold:
            self._start_instance()
        return out

    def take(self, count: int) -> list[GeneratedEvent]:
        """The next `count` events."""
        return [next(self) for _ in range(count)]

    def _normal(self, now: int) -> GeneratedEvent:
        # Hot path (most events): flat per-card lists and local names instead of attribute lookups.
        rng, rand, world = self.rng, self.rng.random, self.world
        cum, free = world.card_cum, self._free
        card = _bisect(cum, rand() * cum[-1])
        while card >= len(free) or free[card] > now:  # busy with a fraud instance: pick another
            card = _bisect(cum, rand() * cum[-1])
        city = self._move(card, now)
        r = rand()
        if r < self._p_atm[card]:
            channel, merchant = "atm", world.atm_by_city[city]
        elif r < self._p_card_absent[card]:
            channel, merchant = "online", self._online[int(rand() * self._n_online)]
        else:
            local = world.pos_by_city[city]
            channel, merchant = "pos", local[int(rand() * len(local))]
        amount = self._median[card] * self._level[merchant] * _exp(self._sigma[card] * rng.gauss(0.0, 1.0))
        if amount > self._cap[card]:
            amount = self._cap[card]
        elif amount < 2.5:
            amount = 2.5
        amount = float(max(20, int(amount // 20) * 20)) if channel == "atm" else round(amount, 2)
        count = self._count[card] = self._count[card] + 1
        if count == MIN_HISTORY:
            self._history.append(card)
        currency = self._home_currency[card] if channel == "online" else self._currency[city]
        seq = self._seq = self._seq + 1
        value = self._enc.encode(f"{self.tag}-{seq:x}", now, card, amount, currency, merchant, city, channel)
        return GeneratedEvent(value, self._keys[card], [_NORMAL_HEADER], NORMAL_SCENARIO, None, now,
                              self._card_ids[card])

    def _move(self, card: int, now: int) -> int:
        """Where the card transacts now: mostly home, sometimes a trip, never faster than a flight."""
        rand = self.rng.random
        here, last_city, home = self._owner[card], self._loc[card], self._home[card]
        dest = here
        if here == home:
            if rand() < self._p_trip[card]:
                nearby = self.world.nearby[here]
                if nearby and rand() < 0.6:
                    dest = nearby[int(rand() * len(nearby))]
                else:
                    dest = int(rand() * len(self._currency))
        elif rand() < 0.15:
            dest = home
        if dest != last_city:
            elapsed = now - self._last[card]
            if elapsed < self._flight[last_city][dest]:  # too soon for that flight: stay put
                dest = here if elapsed >= self._flight[last_city][here] else last_city
        self._owner[card] = self._loc[card] = dest
        self._last[card] = now
        return dest

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
        inst = make_instance(name, self.world, rng, card, now, city=self._loc[card], scenario_id=sid)
        self.schedule(inst)
        self._budget -= len(inst.events)
        self._threshold = rng.uniform(0.5, 1.5)

    def schedule(self, inst: Instance) -> None:
        """Queue an instance's events and keep normal traffic off its card until it is plausible."""
        card = inst.card
        for p in inst.events:
            heapq.heappush(self._pending, (p.ts_ms, next(self._tiebreak), p, inst))
        located = [p for p in inst.events if p.city >= 0]
        if located:
            self._loc[card], self._last[card] = located[-1].city, located[-1].ts_ms
        self._free[card] = max(self._free[card], inst.free_at_ms)

    def _fraud_card(self, name: str, now: int) -> int | None:
        """An idle card (amount_spike: one with history); None if none qualifies right now."""
        rng, world = self.rng, self.world
        pool = self._history if name == "amount_spike" else None
        if pool is not None and not pool:
            return None
        for _ in range(50):
            card = pool[int(rng.random() * len(pool))] if pool is not None else int(
                rng.random() * len(world.cards))
            if self._free[card] <= now and now - self._last[card] >= 120_000:
                return card
        return None


def render(enc: EventEncoder, world: World, txn_id: str, p: PlannedEvent, inst: Instance) -> GeneratedEvent:
    """Serialise one planned event of a fraud instance, with its ground-truth headers."""
    currency = currency_for(world, p.card, p.city, p.channel)
    value = enc.encode(txn_id, p.ts_ms, p.card, p.amount, currency, p.merchant, p.city, p.channel)
    headers = [(HEADER_SCENARIO, inst.scenario.encode()), (HEADER_SCENARIO_ID, inst.scenario_id.encode())]
    return GeneratedEvent(value, enc.card_keys[p.card], headers, inst.scenario, inst.scenario_id, p.ts_ms,
                          world.cards[p.card].card_id)


def instance_events(world: World, inst: Instance) -> list[GeneratedEvent]:
    """The records of one instance on its own (for `inject` and tests); txn ids derive from its id."""
    enc = EventEncoder(world)
    return [render(enc, world, f"{inst.scenario_id}-{k}", p, inst) for k, p in enumerate(inst.events)]


def generate(
    *, seed: int = 0, count: int = 1_000, fraud_ratio: float = DEFAULT_FRAUD_RATIO,
    n_cards: int = DEFAULT_CARDS,
    start: datetime | str | int | None = None, sim_rate: float = DEFAULT_SIM_RATE,
    scenarios: Mapping[str, float] | str | None = None, world: World | None = None,
) -> list[GeneratedEvent]:
    """Generate `count` events (anchored at DEFAULT_START unless `start` is given)."""
    world = world or World.build(seed, n_cards)
    gen = Generator(world, seed, fraud_ratio, scenarios, to_ms(start), sim_rate)
    return gen.take(count)
