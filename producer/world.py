"""The simulated world: cities, merchants and cards with personal spending profiles (pure, seeded)."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from common.money import decimals
from common.rules import default_rules
from producer.geo import CITIES, City, distance_matrix

DEFAULT_CARDS = 5_000
# Relative amount level of each category (multiplies a card's median spend).
POS_CATEGORIES = {
    "grocery": 0.8,
    "restaurant": 1.0,
    "fuel": 1.1,
    "fashion": 1.8,
    "electronics": 3.0,
    "pharmacy": 0.6,
    "entertainment": 1.2,
    "home_garden": 2.0,
    "hotel": 3.5,
    "jewelry": 4.0,
}
ONLINE_CATEGORIES = {
    "ecommerce": 1.4,
    "digital_goods": 0.5,
    "streaming": 0.3,
    "travel_booking": 4.0,
    "marketplace": 1.2,
    "gaming": 0.6,
    "food_delivery": 0.9,
}
POS_PER_CITY = 5
ONLINE_MERCHANTS = 40
NEARBY_KM = 1_500.0


class Merchant(NamedTuple):
    """A merchant; `city` is an index into World.cities, or -1 for online-only merchants."""

    merchant_id: str
    category: str
    city: int
    level: float  # category amount multiplier


class Card(NamedTuple):
    """A card, its account, home and personal spending profile."""

    card_id: str
    account_id: str
    home: int  # city index
    median: float  # median spend in US dollars, before the category multiplier
    sigma: float  # log-normal spread of its amounts
    activity: float  # relative transaction frequency (weights card choice)
    p_online: float
    p_atm: float
    p_trip: float  # chance that a transaction at home starts a trip

    @property
    def cap(self) -> float:
        """The largest amount a normal transaction of this card ever has."""
        return round(min(self.median * 6.0, 2_500.0), 2)


@dataclass(frozen=True)
class World:
    """Everything precomputed once so that generating an event costs a few microseconds."""

    seed: int
    cities: tuple[City, ...]
    dist_km: tuple[tuple[float, ...], ...]
    merchants: tuple[Merchant, ...]
    pos_by_city: tuple[tuple[int, ...], ...]  # merchant indexes trading in each city
    atm_by_city: tuple[int, ...]  # one ATM operator per city
    online: tuple[int, ...]  # online merchant indexes
    cards: tuple[Card, ...]
    card_cum: tuple[float, ...]  # cumulative activity, for weighted card choice
    nearby: tuple[tuple[int, ...], ...]  # per city: other cities within NEARBY_KM
    # Local currency units per US dollar. Every amount is planned in dollars and sent in the
    # currency where it is spent, at the rules' default rates (the bridge converts back with them).
    per_usd: Mapping[str, float]

    @classmethod
    def build(cls, seed: int = 0, n_cards: int = DEFAULT_CARDS) -> World:
        """Build the world deterministically from `seed`."""
        if n_cards < 1:
            raise ValueError("n_cards must be >= 1")
        rng = random.Random(f"world:{seed}")
        cities = CITIES
        dist = distance_matrix(cities)
        merchants, pos_by_city, atm_by_city, online = _merchants(rng, len(cities))
        cards = _cards(rng, n_cards, cities)
        nearby = tuple(
            tuple(j for j in range(len(cities)) if j != i and dist[i][j] <= NEARBY_KM)
            for i in range(len(cities))
        )
        return cls(
            seed=seed,
            cities=cities,
            dist_km=dist,
            merchants=merchants,
            pos_by_city=pos_by_city,
            atm_by_city=atm_by_city,
            online=online,
            cards=cards,
            card_cum=tuple(itertools.accumulate(c.activity for c in cards)),
            nearby=nearby,
            per_usd={code: 1.0 / rate for code, rate in default_rules().currency.items()},
        )

    def pick_card(self, rng: random.Random) -> int:
        """A card index, weighted by each card's activity."""
        cum = self.card_cum
        return min(bisect.bisect(cum, rng.random() * cum[-1]), len(cum) - 1)

    def card_index(self, card_id: str) -> int:
        """The index of a card id; raise KeyError if the world has no such card."""
        for i, card in enumerate(self.cards):
            if card.card_id == card_id:
                return i
        raise KeyError(card_id)


def _merchants(
    rng: random.Random, n_cities: int
) -> tuple[tuple[Merchant, ...], tuple[tuple[int, ...], ...], tuple[int, ...], tuple[int, ...]]:
    merchants: list[Merchant] = []
    pos_by_city: list[tuple[int, ...]] = []
    atm_by_city: list[int] = []
    pos_names = sorted(POS_CATEGORIES)
    for city in range(n_cities):
        idx = []
        for k in range(POS_PER_CITY):
            # Everyday categories first so each city has somewhere to buy groceries and fuel.
            cat = ("grocery", "restaurant", "fuel")[k] if k < 3 else rng.choice(pos_names)
            idx.append(len(merchants))
            merchants.append(Merchant(f"M{len(merchants):05d}", cat, city, POS_CATEGORIES[cat]))
        pos_by_city.append(tuple(idx))
        atm_by_city.append(len(merchants))
        merchants.append(Merchant(f"M{len(merchants):05d}", "atm", city, 1.0))
    online = []
    online_names = sorted(ONLINE_CATEGORIES)
    for _ in range(ONLINE_MERCHANTS):
        cat = rng.choice(online_names)
        online.append(len(merchants))
        merchants.append(Merchant(f"M{len(merchants):05d}", cat, -1, ONLINE_CATEGORIES[cat]))
    return tuple(merchants), tuple(pos_by_city), tuple(atm_by_city), tuple(online)


def _cards(rng: random.Random, n_cards: int, cities: tuple[City, ...]) -> tuple[Card, ...]:
    cum_city = list(itertools.accumulate(c.weight for c in cities))
    cards: list[Card] = []
    account, home = -1, 0
    for i in range(n_cards):
        # About one card in five shares an account (and a home) with the previous card.
        if account < 0 or rng.random() >= 0.2:
            account += 1
            home = min(bisect.bisect(cum_city, rng.random() * cum_city[-1]), len(cities) - 1)
        traveller = rng.random() < 0.3
        cards.append(
            Card(
                card_id=f"C{i:07d}",
                account_id=f"A{account:07d}",
                home=home,
                median=round(min(250.0, max(5.0, math.exp(rng.gauss(math.log(40.0), 0.6)))), 2),
                sigma=rng.uniform(0.3, 0.6),
                activity=math.exp(rng.gauss(0.0, 0.8)),
                p_online=rng.uniform(0.15, 0.45),
                p_atm=rng.uniform(0.03, 0.12),
                p_trip=rng.uniform(0.01, 0.05) if traveller else 0.002,
            )
        )
    return tuple(cards)


def typical_amount(card: Card, level: float, rng: random.Random) -> float:
    """An everyday amount for this card at a merchant of the given level, in cents precision."""
    amount = card.median * level * math.exp(card.sigma * rng.gauss(0.0, 1.0))
    return round(min(card.cap, max(2.5, amount)), 2)


def local_amount(world: World, usd: float, currency: str) -> float:
    """A planned amount in US dollars as sent in `currency` (its minor units: cents, or whole yen)."""
    return round(usd * world.per_usd.get(currency, 1.0), decimals(currency))


def currency_for(world: World, card: int, city: int, channel: str) -> str:
    """Card-present spend is in the local currency; online spend in the card's home currency."""
    if channel == "online" or city < 0:
        return world.cities[world.cards[card].home].currency
    return world.cities[city].currency
