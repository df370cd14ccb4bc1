"""The join of topic records into model arrays: dense ids in event order, labels on txn_id (no I/O)."""

from __future__ import annotations

import numpy as np

from common.labels import ANALYST, CHARGEBACK, FRAUD, LEGITIMATE, make_label
from model.features import FeatureConfig, compute_features
from model.join import IdMap, Txn, join

H = 3_600_000


def _txn(i: int, ts_h: float, card: str, merchant: str, record_ms: int = 0) -> Txn:
    return Txn(f"t{i}", int(ts_h * H), card, merchant, 1_000 + i, record_ms or int(ts_h * H))


def test_id_map_is_dense_in_first_seen_order() -> None:
    ids = IdMap()
    assert [ids(k) for k in ("b", "a", "b", "c", "a")] == [0, 1, 0, 2, 1]
    assert ids.ids == {"b": 0, "a": 1, "c": 2}


def test_transactions_sorted_by_event_time_and_ids_mapped_in_that_order() -> None:
    # read out of event-time order (partitions interleave), one resent
    txns = [_txn(2, 5, "cB", "m2"), _txn(1, 1, "cA", "m1"), _txn(3, 3, "cA", "m2"), _txn(2, 5, "cB", "m2")]
    j = join(txns, [])
    assert j.txn_ids == ("t1", "t3", "t2")
    assert j.events.card.tolist() == [0, 0, 1]  # cA first seen first
    assert j.events.terminal.tolist() == [0, 1, 1]
    assert j.events.ts.tolist() == [3600, 3 * 3600, 5 * 3600]
    assert j.counts["duplicates_dropped"] == 1
    assert not j.labelled.any()


def test_labels_join_on_txn_id_later_verdict_wins_and_any_source_fraud() -> None:
    txns = [_txn(1, 1, "c", "m"), _txn(2, 2, "c", "m"), _txn(3, 3, "c", "m")]
    labels = [
        make_label(txn_id="t1", card_id="c", label=FRAUD, source=ANALYST, label_ms=2 * H, ref="a"),
        make_label(txn_id="t1", card_id="c", label=LEGITIMATE, source=ANALYST, label_ms=4 * H, ref="b"),
        make_label(txn_id="t2", card_id="c", label=LEGITIMATE, source=ANALYST, label_ms=3 * H, ref="c"),
        make_label(txn_id="t2", card_id="c", label=FRAUD, source=CHARGEBACK, label_ms=9 * H),
        make_label(txn_id="elsewhere", card_id="x", label=FRAUD, source=CHARGEBACK, label_ms=1 * H),
    ]
    j = join(txns, labels)
    assert j.fraud.tolist() == [False, True, False]  # t1 cleared by the later verdict; t2 a chargeback
    assert j.labelled.tolist() == [True, True, False]
    assert j.counts["standing_unmatched"] == 1
    assert j.counts["standing_chargeback_fraud"] == 1
    # as of 3 h, only the first analyst verdicts were known: t1 was fraud then, t2 legitimate
    early = join(txns, labels, labels_as_of_ms=3 * H)
    assert early.fraud.tolist() == [True, False, False]


def test_feature_labels_carry_their_own_time_so_features_never_see_them_early() -> None:
    day = 24
    txns = [_txn(1, 0, "c1", "m"), _txn(2, 1, "c2", "m")]
    # the merchant fraud rate ends the label delay (7 days) before a transaction: later events see t1
    txns += [_txn(10 + k, 8 * day + k, f"c{10 + k}", "m") for k in range(3)]
    late = make_label(txn_id="t1", card_id="c1", label=FRAUD, source=CHARGEBACK, label_ms=(8 * day + 1) * H)
    j = join(txns, [late])
    assert j.feature_labels.tx_id.tolist() == [0]
    assert j.feature_labels.known_at.tolist() == [(8 * day + 1) * 3600]
    x = compute_features(j.events, j.feature_labels)
    names = list(FeatureConfig().names())
    rate = x[:, names.index("terminal_fraud_rate_7d")]
    # at 8 d + 0 h the label is not known yet; from 8 d + 1 h it is (1 fraud of 2 in the window)
    assert rate[2:].tolist() == [0.0, 0.5, 0.5]
    assert np.all(rate[:2] == 0.0)
