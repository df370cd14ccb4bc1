"""The handbook simulator: the book's dataset shape and fraud rates, seeded and reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from bench.handbook.simulator import DAY_S, SimParams, Transactions, simulate

SMALL = SimParams(n_customers=500, n_terminals=1_000, n_days=40, seed=7)


@pytest.fixture(scope="module")
def book() -> Transactions:
    return simulate(SimParams())


def test_the_book_sized_run_has_the_books_volume_and_fraud_rate(book: Transactions) -> None:
    # the book: 1,754,155 transactions over 183 days, 0.84 % fraud (our draws differ, not the shape)
    assert 1_700_000 < len(book) < 1_850_000
    assert 0.006 < book.fraud.mean() < 0.011
    per_scenario = np.bincount(book.scenario, minlength=4)
    assert 500 < per_scenario[1] < 2_000  # amounts above the cut: the rarest
    assert 6_000 < per_scenario[2] < 12_000  # compromised terminals: the most frequent
    assert 3_000 < per_scenario[3] < 6_500  # compromised cards
    assert np.all(np.diff(book.ts) >= 0)
    assert book.day.min() == 0 and book.day.max() == 182


def test_each_scenario_follows_its_definition(book: Transactions) -> None:
    p = book.params
    s1 = book.scenario == 1
    assert np.all(book.amount_cents[s1] > p.amount_cut * 100)
    legit = ~book.fraud
    assert np.all(book.amount_cents[legit] <= p.amount_cut * 100)
    # a compromised terminal's frauds are all its transactions for a while: every one of them is fraud
    s2_terms = np.unique(book.terminal[book.scenario == 2])
    assert len(s2_terms) <= p.terminals_per_day * p.n_days
    # a compromised card's frauds come from few cards: at most customers_per_day per day
    assert len(np.unique(book.card[book.scenario == 3])) <= p.customers_per_day * p.n_days
    # times of day: the book's normal draw around noon, cut to the day
    secs = (book.ts - p.start_ts) % DAY_S
    assert abs(np.median(secs) - DAY_S / 2) < 1_000


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = simulate(SMALL), simulate(SMALL), simulate(SimParams(**{**SMALL.__dict__, "seed": 8}))
    for name in ("ts", "card", "terminal", "amount_cents", "scenario"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.amount_cents, c.amount_cents[: len(a)]) or len(a) != len(c)


def test_the_scenarios_parameters_are_not_hard_coded() -> None:
    none = simulate(
        SimParams(**{**SMALL.__dict__, "amount_cut": 1e9, "terminals_per_day": 0, "customers_per_day": 0})
    )
    assert not none.fraud.any()
    lower_cut = simulate(SimParams(**{**SMALL.__dict__, "amount_cut": 150.0}))
    base = simulate(SMALL)
    assert (lower_cut.scenario == 1).sum() > (base.scenario == 1).sum()
    x3 = simulate(SimParams(**{**SMALL.__dict__, "customer_multiplier": 3.0}))
    # same draws, another multiplier: the chosen transactions' amounts are 3x instead of 5x
    s3 = base.scenario == 3
    assert np.array_equal(s3, x3.scenario == 3)
    ratio = base.amount_cents[s3] / x3.amount_cents[s3]
    # (a transaction chosen by two overlapping compromises is multiplied twice; tiny amounts round)
    assert np.isclose(ratio, 5 / 3, rtol=0.02).mean() > 0.95
