"""Point-in-time features: no later event, no early label; batch by batch == all at once, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from bench.handbook.simulator import SimParams, Transactions, simulate
from model.features import DAY_S, Events, FeatureConfig, FeatureState, Labels, compute_features

T0 = 1_700_000_000  # a Tuesday, 22:13 UTC
NAMES = FeatureConfig().names()
COL = {name: i for i, name in enumerate(NAMES)}


def ev(rows: list[tuple[int, int, int, int]]) -> Events:
    """Events from (ts, card, terminal, cents) rows."""
    a = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return Events(ts=a[:, 0], card=a[:, 1], terminal=a[:, 2], amount_cents=a[:, 3])


def lab(rows: list[tuple[int, int, int, int]]) -> Labels:
    """Fraud labels from (tx_id, terminal, txn_ts, known_at) rows."""
    a = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return Labels(tx_id=a[:, 0], terminal=a[:, 1], txn_ts=a[:, 2], known_at=a[:, 3])


def no_labels() -> Labels:
    return lab([])


def test_card_windows_count_the_past_and_the_transaction_itself_never_a_later_one() -> None:
    x = compute_features(
        ev(
            [
                (T0 - 2 * DAY_S, 1, 9, 1_000),  # outside 1 day, inside 7
                (T0 - 3600, 1, 9, 2_000),
                (T0, 1, 9, 6_000),
                (T0, 1, 9, 10_000),  # same second, arrives later: the row before must not see it
                (T0 + 60, 2, 9, 500),  # another card
            ]
        ),
        no_labels(),
    )
    assert x[2, COL["card_count_1d"]] == 2 and x[2, COL["card_avg_amount_1d"]] == 40.0
    assert x[2, COL["card_count_7d"]] == 3 and x[2, COL["card_avg_amount_7d"]] == 30.0
    assert x[3, COL["card_count_1d"]] == 3
    assert x[4, COL["card_count_30d"]] == 1 and x[4, COL["amount"]] == 5.0
    assert x[2, COL["amount_over_card_avg_7d"]] == 2.0


def test_time_of_day_and_weekend() -> None:
    sat_3am = 1_700_276_400  # 2023-11-18 03:00 UTC, a Saturday
    x = compute_features(ev([(T0, 1, 1, 100), (sat_3am, 1, 1, 100)]), no_labels())
    assert x[:, COL["hour"]].tolist() == [22.0, 3.0]
    assert x[:, COL["night"]].tolist() == [0.0, 1.0]
    assert x[:, COL["weekend"]].tolist() == [0.0, 1.0]


def test_a_merchant_label_counts_only_once_known_and_once_its_transaction_is_the_delay_old() -> None:
    delay = 7 * DAY_S
    txn_ts = T0 - 8 * DAY_S
    events = ev(
        [(txn_ts, 1, 5, 100), (T0 - 2 * DAY_S, 2, 5, 100), (T0, 3, 5, 100), (T0 + 4 * DAY_S, 4, 5, 100)]
    )
    rate = COL["terminal_fraud_rate_7d"]

    on_time = compute_features(events, lab([(0, 5, txn_ts, txn_ts + delay)]))
    assert on_time[2, rate] == 1.0 and on_time[2, COL["terminal_count_7d"]] == 1
    # the second transaction is only 6 days old at T0 + 4 days: not yet in the delayed window
    assert on_time[3, COL["terminal_count_7d"]] == 1
    # an analyst's label known at once is still not used before the transaction is the delay old
    early = compute_features(events, lab([(1, 5, T0 - 2 * DAY_S, T0 - 2 * DAY_S)]))
    assert early[2, rate] == 0.0
    # a chargeback known after T0: not used at T0, used at T0 + 4 days (its transaction in the 30-day window)
    late = compute_features(events, lab([(0, 5, txn_ts, T0 + DAY_S)]))
    assert late[2, rate] == 0.0 and late[2, COL["terminal_fraud_rate_30d"]] == 0.0
    assert late[3, COL["terminal_fraud_rate_30d"]] == 1.0
    # a label for a transaction the state has not seen yet is kept until it counts
    state = FeatureState()
    state.add_labels(lab([(0, 5, txn_ts, txn_ts + delay)]))
    state.transform(ev([(txn_ts, 1, 5, 100)]))
    assert state.transform(ev([(T0, 3, 5, 100)]))[0, rate] == 1.0


def test_a_transaction_labelled_twice_counts_once() -> None:
    txn_ts = T0 - 8 * DAY_S
    events = ev([(txn_ts, 1, 5, 100), (T0, 3, 5, 100)])
    twice = lab([(0, 5, txn_ts, txn_ts + 1), (0, 5, txn_ts, txn_ts + 7 * DAY_S)])
    assert compute_features(events, twice)[1, COL["terminal_fraud_rate_7d"]] == 1.0


@pytest.fixture(scope="module")
def small() -> tuple[Transactions, Labels]:
    tx = simulate(SimParams(n_customers=300, n_terminals=400, n_days=60, seed=3))
    f = tx.fraud
    return tx, Labels(tx.tx_id[f], tx.terminal[f], tx.ts[f], tx.ts[f] + 7 * DAY_S)


def _events(tx: Transactions, rows: slice | np.ndarray = slice(None)) -> Events:
    return Events(tx.ts[rows], tx.card[rows], tx.terminal[rows], tx.amount_cents[rows])


def test_batch_by_batch_equals_all_at_once_byte_for_byte(small: tuple[Transactions, Labels]) -> None:
    tx, labels = small
    bulk = compute_features(_events(tx), labels)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, len(tx)), size=40, replace=False))
    state, parts, given = FeatureState(), [], 0
    for lo, hi in zip([0, *cuts], [*cuts, len(tx)], strict=True):
        # serving: the labels that have arrived by the batch's newest event are added first
        arrived = (labels.known_at <= tx.ts[hi - 1]) & (np.arange(len(labels.tx_id)) >= given)
        idx = np.flatnonzero(arrived)
        if len(idx):
            state.add_labels(
                Labels(
                    *(
                        getattr(labels, f)[given : idx.max() + 1]
                        for f in ("tx_id", "terminal", "txn_ts", "known_at")
                    )
                )
            )
            given = idx.max() + 1
        parts.append(state.transform(_events(tx, slice(lo, hi))))
    assert np.concatenate(parts).tobytes() == bulk.tobytes()
    assert len(state._cards) < len(tx)  # the state forgot what no later transaction can see


def test_no_feature_sees_a_later_event_or_a_label_not_yet_known(small: tuple[Transactions, Labels]) -> None:
    tx, labels = small
    bulk = compute_features(_events(tx), labels)
    for i in np.random.default_rng(1).choice(len(tx), size=25, replace=False):
        known = labels.known_at <= tx.ts[i]
        past = Labels(*(getattr(labels, f)[known] for f in ("tx_id", "terminal", "txn_ts", "known_at")))
        alone = compute_features(_events(tx, slice(0, i + 1)), past)
        assert alone[-1].tobytes() == bulk[i].tobytes(), i


def test_bad_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="same length"):
        Events(np.array([T0]), np.array([1, 2]), np.array([1]), np.array([1]))
    with pytest.raises(ValueError, match="ids must be"):
        ev([(T0, -1, 1, 100)])
    with pytest.raises(ValueError, match="event times"):
        ev([(-5, 1, 1, 100)])


def _oracle(batches: list[Events], cfg: FeatureConfig) -> np.ndarray:
    """Card counts and sums and terminal counts by their definition, row by row (slow, obvious):
    a row sees earlier batches' rows not yet expired by the watermark before its batch, and its own
    batch's rows up to itself in (time, arrival) order."""
    delay, card_reach = cfg.label_delay_days * DAY_S, max(cfg.card_windows_days) * DAY_S
    term_reach = delay + max(cfg.terminal_windows_days) * DAY_S
    seen: list[tuple[int, int, int, int]] = []  # (ts, card, terminal, cents) of earlier batches
    watermark, out = -1, []
    for b in batches:
        rows = list(
            zip(b.ts.tolist(), b.card.tolist(), b.terminal.tolist(), b.amount_cents.tolist(), strict=True)
        )
        for i, (t, card, term, _) in enumerate(rows):
            mine = [r for k, r in enumerate(rows) if (r[0], k) <= (t, i)]
            feats: list[float] = []
            for w in cfg.card_windows_days:
                lo = t - w * DAY_S
                hits = [r for r in seen if r[1] == card and max(lo, watermark - card_reach) < r[0] <= t]
                hits += [r for r in mine if r[1] == card and lo < r[0]]
                feats += [len(hits), sum(r[3] for r in hits)]
            for w in cfg.terminal_windows_days:
                lo, hi = t - delay - w * DAY_S, t - delay
                n = sum(1 for r in seen if r[2] == term and max(lo, watermark - term_reach) < r[0] <= hi)
                feats.append(n + sum(1 for r in rows if r[2] == term and lo < r[0] <= hi))
            out.append(feats)
        seen += rows
        watermark = max(watermark, int(b.ts.max()))
    return np.array(out, dtype=np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batches_out_of_event_time_order_match_the_definition(seed: int) -> None:
    """Late events, equal times, days-long gaps and random batch cuts: the runs-based state gives
    what the definition says, including what the watermark has already expired."""
    rng = np.random.default_rng(seed)
    n = 400
    ts = T0 + np.sort(rng.integers(0, 70 * DAY_S, n)) + rng.integers(-3 * DAY_S, 3 * DAY_S, n)
    ts[rng.choice(n, 20)] = ts[0]  # repeated times
    events = Events(ts, rng.integers(0, 6, n), rng.integers(0, 5, n), rng.integers(1, 50_000, n))
    cuts = np.sort(rng.choice(np.arange(1, n), size=30, replace=False))
    cfg, state, batches, got = FeatureConfig(), FeatureState(), [], []
    for lo, hi in zip([0, *cuts], [*cuts, n], strict=True):
        b = Events(*(getattr(events, f)[lo:hi] for f in ("ts", "card", "terminal", "amount_cents")))
        batches.append(b)
        got.append(state.transform(b))
    feats = np.concatenate(got)
    want = _oracle(batches, cfg)
    card_cols = [
        c for w in cfg.card_windows_days for c in (COL[f"card_count_{w}d"], COL[f"card_avg_amount_{w}d"])
    ]
    term_cols = [COL[f"terminal_count_{w}d"] for w in cfg.terminal_windows_days]
    counts = want[:, 0::2][:, : len(cfg.card_windows_days)]
    np.testing.assert_array_equal(feats[:, card_cols[0::2]], counts)
    np.testing.assert_array_equal(
        feats[:, card_cols[1::2]], want[:, 1 : 2 * len(cfg.card_windows_days) : 2] / counts / 100.0
    )
    np.testing.assert_array_equal(feats[:, term_cols], want[:, 2 * len(cfg.card_windows_days) :])
