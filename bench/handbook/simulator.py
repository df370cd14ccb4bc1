"""A seeded, vectorised reimplementation of the handbook's chapter 3 transaction simulator."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
DAY_S = 86_400
START_TS = 1_522_540_800  # 2018-04-01 00:00 UTC, the book's first day


@dataclass(frozen=True)
class SimParams:
    """The simulator's knobs; the defaults are the book's values."""

    n_customers: int = 5_000
    n_terminals: int = 10_000
    n_days: int = 183
    radius: float = 5.0  # a customer uses the terminals within this distance on the 100x100 grid
    start_ts: int = START_TS
    amount_cut: float = 220.0  # scenario 1: every amount above it is fraud
    terminals_per_day: int = 2  # scenario 2: terminals compromised each day ...
    terminal_days: int = 28  # ... whose transactions are all fraud for this many days
    customers_per_day: int = 3  # scenario 3: cards compromised each day ...
    customer_days: int = 14  # ... for this many days, during which ...
    customer_share: float = 1 / 3  # ... this share of their transactions ...
    customer_multiplier: float = 5.0  # ... has its amount multiplied by this, and is fraud
    seed: int = 0


@dataclass(frozen=True)
class Transactions:
    """Simulated transactions in event-time order; `tx_id` is the row number."""

    tx_id: I64
    ts: I64  # event time, epoch seconds
    card: I64  # the customer id: one card per customer
    terminal: I64
    amount_cents: I64
    fraud: npt.NDArray[np.bool_]
    scenario: npt.NDArray[np.int8]  # 0 legitimate, else the fraud scenario (1, 2, 3)
    params: SimParams = field(repr=False)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def day(self) -> I64:
        """Day index since the simulation's start."""
        return (self.ts - self.params.start_ts) // DAY_S


def _terminals_in_reach(cust_xy: np.ndarray, term_xy: np.ndarray, radius: float) -> tuple[I64, I64]:
    """CSR lists (offsets, terminal ids) of the terminals within `radius` of each customer."""
    offsets = np.zeros(len(cust_xy) + 1, dtype=np.int64)
    chunks: list[I64] = []
    step = 512  # bounded memory: 512 x 10,000 distances at a time
    for lo in range(0, len(cust_xy), step):
        d2 = ((cust_xy[lo : lo + step, None, :] - term_xy[None, :, :]) ** 2).sum(axis=2)
        rows, cols = np.nonzero(d2 < radius * radius)
        chunks.append(cols.astype(np.int64))
        offsets[lo + 1 : lo + step + 1] = np.bincount(rows, minlength=len(d2)).cumsum() + offsets[lo]
    return offsets, (np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64))


def simulate(p: SimParams = SimParams()) -> Transactions:
    """Generate the book's dataset shape: profiles, transactions, then the three fraud scenarios."""
    rng = np.random.default_rng(p.seed)
    cust_xy = rng.uniform(0, 100, size=(p.n_customers, 2))
    mean_amount = rng.uniform(5, 100, size=p.n_customers)
    std_amount = mean_amount / 2
    tx_per_day = rng.uniform(0, 4, size=p.n_customers)
    term_xy = rng.uniform(0, 100, size=(p.n_terminals, 2))
    offsets, reach = _terminals_in_reach(cust_xy, term_xy, p.radius)
    n_reach = np.diff(offsets)

    # transactions: a Poisson count per customer and day, a time of day around noon
    counts = rng.poisson(np.repeat(tx_per_day[None, :], p.n_days, axis=0)).ravel()  # day-major
    day = np.repeat(np.repeat(np.arange(p.n_days), p.n_customers), counts)
    cust = np.repeat(np.tile(np.arange(p.n_customers), p.n_days), counts)
    secs = np.rint(rng.normal(DAY_S / 2, 20_000, size=len(day))).astype(np.int64)
    amount = rng.normal(mean_amount[cust], std_amount[cust])
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean_amount[cust[negative]])
    pick = rng.random(len(day))
    keep = (secs >= 0) & (secs < DAY_S) & (n_reach[cust] > 0)  # the book drops both cases
    day, cust, secs, amount, pick = day[keep], cust[keep], secs[keep], amount[keep], pick[keep]
    terminal = reach[offsets[cust] + (pick * n_reach[cust]).astype(np.int64)]
    ts = p.start_ts + day * DAY_S + secs
    order = np.argsort(ts, kind="stable")
    ts, cust, terminal, day = ts[order], cust[order], terminal[order], day[order]
    cents = np.maximum(np.rint(amount[order] * 100).astype(np.int64), 1)  # our schema refuses 0.00

    scenario = np.zeros(len(ts), dtype=np.int8)
    scenario[cents > round(p.amount_cut * 100)] = 1
    _compromised_terminals(rng, p, terminal, day, scenario)
    _compromised_cards(rng, p, cust, day, cents, scenario)
    return Transactions(
        tx_id=np.arange(len(ts), dtype=np.int64),
        ts=ts,
        card=cust.astype(np.int64),
        terminal=terminal,
        amount_cents=cents,
        fraud=scenario > 0,
        scenario=scenario,
        params=p,
    )


def _compromised_terminals(
    rng: np.random.Generator, p: SimParams, terminal: I64, day: I64, scenario: npt.NDArray[np.int8]
) -> None:
    """Scenario 2: each day some terminals are compromised; their next days' transactions are fraud."""
    hit = np.zeros((p.n_terminals, p.n_days + 1), dtype=np.int32)  # +1 at the start, -1 past the end
    for d in range(p.n_days):
        for t in rng.choice(p.n_terminals, size=p.terminals_per_day, replace=False):
            hit[t, d] += 1
            hit[t, min(d + p.terminal_days, p.n_days)] -= 1
    active = hit.cumsum(axis=1) > 0
    scenario[active[terminal, day]] = 2


def _compromised_cards(
    rng: np.random.Generator,
    p: SimParams,
    cust: I64,
    day: I64,
    cents: I64,
    scenario: npt.NDArray[np.int8],
) -> None:
    """Scenario 3: each day some cards are compromised; a share of their next days' amounts is
    multiplied and marked fraud (in place)."""
    by_card = np.lexsort((day, cust))  # rows grouped by card, in time order
    key = cust[by_card] * (p.n_days + p.customer_days) + day[by_card]
    for d in range(p.n_days):
        for c in rng.choice(p.n_customers, size=p.customers_per_day, replace=False):
            base = c * (p.n_days + p.customer_days)
            lo, hi = np.searchsorted(key, [base + d, base + d + p.customer_days])
            rows = by_card[lo:hi]
            chosen = rng.choice(rows, size=int(len(rows) * p.customer_share), replace=False)
            cents[chosen] = np.rint(cents[chosen] * p.customer_multiplier).astype(np.int64)
            scenario[chosen] = 3
