"""Normal traffic: per-card state and the per-event hot path (a few microseconds per event)."""

from __future__ import annotations

import bisect
import math
import random
import time

from common.money import decimals
from common.schema import HEADER_SCENARIO, NORMAL_SCENARIO
from producer.encoding import EventEncoder
from producer.events import GeneratedEvent
from producer.scenarios import Instance, flight_ms
from producer.world import World

MIN_HISTORY = 5  # normal transactions a card needs before it can carry an amount_spike
P_RETURN = 0.15  # chance that a transaction away from home happens back at home
P_NEARBY_TRIP = 0.6  # trips mostly go to a city within NEARBY_KM
# A holder's own purchases are at least this far apart (paying takes a while): at most 3 in any
# minute, so ordinary cards never pace like a velocity burst (6 in 60 s). Without it the busiest
# cards (activity up to ~15x the mean) paid every ~20 s at random; the bridge has not learnt any
# card's pace on a fresh start, and 4 of the first 6 alerts of a `make run` were such cards.
MIN_GAP_MS = 20_000
REDRAWS = 16  # a card drawn inside its gap is redrawn this often at most (tiny worlds run dense)
# One headers list shared by every normal event: send() only reads it, and a list per event
# would be one more GC-tracked allocation on the hot path (GeneratedEvent: do not mutate headers).
_NORMAL_HEADERS = [(HEADER_SCENARIO, NORMAL_SCENARIO.encode())]
_MS_Z = tuple(f"{ms:03d}Z" for ms in range(1000))  # the millisecond tail of `ts`, formatted once
_GAUSS_TABLE = 1 << 14  # standard normals drawn once: rng.gauss is a Python-level function
_bisect = bisect.bisect
_exp = math.exp


class NormalTraffic:
    """Draws normal transactions; remembers where each card is so travel stays plausible."""

    def __init__(self, world: World, rng: random.Random, enc: EventEncoder, tag: str) -> None:
        self.world, self.rng, self.enc, self.tag = world, rng, enc, tag
        cards, cities = world.cards, world.cities
        n = len(cards)
        self.owner = [c.home for c in cards]  # where the card's holder is
        self.loc = list(self.owner)  # city of the card's last located event (any label)
        self.last = [-(10**15)] * n  # ts of that event
        self.free = [0] * n  # no normal traffic before this ts (a fraud instance is running)
        self.count = [0] * n  # normal transactions so far
        self.history: list[int] = []  # cards with >= MIN_HISTORY normal transactions
        self._flight = [[flight_ms(km) for km in row] for row in world.dist_km]
        # One tuple per card so the hot path does a single lookup.
        self._profile = [
            (
                c.median,
                c.sigma,
                c.cap,
                c.p_atm,
                c.p_atm + c.p_online,
                c.p_trip,
                c.home,
                cities[c.home].currency,
                enc.card_keys[i],
                c.card_id,
                enc.card_frag[i],
            )
            for i, c in enumerate(cards)
        ]
        self._currency = [c.currency for c in cities]
        self._money = {c.currency: (world.per_usd.get(c.currency, 1.0), decimals(c.currency)) for c in cities}
        self._level = [m.level for m in world.merchants]
        self._gauss = [rng.gauss(0.0, 1.0) for _ in range(_GAUSS_TABLE)]
        self._cum, self._total, self._n = world.card_cum, world.card_cum[-1], n
        self._sec, self._sec_text = -1, ""

    def reserve(self, inst: Instance) -> None:
        """Keep normal traffic off the instance's card until its fraud is plausibly over."""
        card = inst.card
        located = [p for p in inst.events if p.city >= 0]
        if located:
            self.loc[card], self.last[card] = located[-1].city, located[-1].ts_ms
        self.free[card] = max(self.free[card], inst.free_at_ms)

    def event(self, now: int, seq: int) -> GeneratedEvent:
        """One normal transaction at event time `now` (ms)."""
        rand, world, free = self.rng.random, self.world, self.free
        card, last, redraws = _bisect(self._cum, rand() * self._total), self.last, REDRAWS
        # busy with a fraud instance, or paid moments ago: pick another
        while card >= self._n or free[card] > now or (now - last[card] < MIN_GAP_MS and redraws > 0):
            card, redraws = _bisect(self._cum, rand() * self._total), redraws - 1
        median, sigma, cap, p_atm, p_absent, p_trip, home, home_cur, key, card_id, frag = self._profile[card]
        r = rand()
        if r >= p_trip and self.owner[card] == home == self.loc[card]:  # the common case: at home
            city = home
            self.last[card] = now
        else:
            city = self._move(card, now, r)
        r = rand()
        if r < p_atm:
            channel, merchant = "atm", world.atm_by_city[city]
        elif r < p_absent:
            channel, merchant = "online", world.online[int(rand() * len(world.online))]
        else:
            local = world.pos_by_city[city]
            channel, merchant = "pos", local[int(rand() * len(local))]
        amount = median * self._level[merchant] * _exp(sigma * self._gauss[int(rand() * _GAUSS_TABLE)])
        if amount > cap:
            amount = cap
        elif amount < 2.5:
            amount = 2.5
        currency = home_cur if channel == "online" else self._currency[city]
        per_usd, digits = self._money[currency]  # planned in US dollars, sent in local currency
        if channel == "atm":  # notes: a multiple of 20, in whole units of the local currency
            amount = round(max(20, int(amount // 20) * 20) * per_usd, 0)
        else:
            amount = round(amount * per_usd, digits)
        count = self.count[card] = self.count[card] + 1
        if count == MIN_HISTORY:
            self.history.append(card)
        sec = now // 1000
        if sec != self._sec:
            self._sec, self._sec_text = sec, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        # Same layout as EventEncoder.encode, inlined: this line runs for ~98% of all events.
        value = (
            f'{{"txn_id":"{self.tag}-{seq:x}","ts":"{self._sec_text}{_MS_Z[now % 1000]}"{frag}{amount!r}'
            f',"currency":"{currency}"{self.enc.merchant_frag[merchant]}{self.enc.city_frag[city]}{channel}"}}'
        ).encode()
        return GeneratedEvent(value, key, _NORMAL_HEADERS, NORMAL_SCENARIO, None, now, card_id)

    def _move(self, card: int, now: int, r: float) -> int:
        """Where the card transacts now (r decides trips); never faster than a flight allows."""
        rand = self.rng.random
        home = self._profile[card][6]
        here, last_city = self.owner[card], self.loc[card]
        dest = here
        if here == home:
            if r < self._profile[card][5]:
                nearby = self.world.nearby[here]
                if nearby and rand() < P_NEARBY_TRIP:
                    dest = nearby[int(rand() * len(nearby))]
                else:
                    dest = int(rand() * len(self._currency))
        elif r < P_RETURN:
            dest = home
        if dest != last_city:
            elapsed = now - self.last[card]
            if elapsed < self._flight[last_city][dest]:  # too soon for that flight: stay put
                dest = here if elapsed >= self._flight[last_city][here] else last_city
        self.owner[card] = self.loc[card] = dest
        self.last[card] = now
        return dest
