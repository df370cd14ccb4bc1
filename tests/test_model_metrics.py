"""The handbook's metrics and protocol split on constructed cases."""

from __future__ import annotations

import numpy as np

from model.metrics import card_precision_at_k, evaluate
from model.train import Protocol, split


def a(*v: float) -> np.ndarray:
    return np.array(v)


def test_card_precision_ranks_cards_by_their_best_transaction_and_divides_by_k() -> None:
    day = a(0, 0, 0, 0, 0).astype(np.int64)
    card = a(1, 1, 2, 3, 4).astype(np.int64)
    fraud = a(0, 1, 0, 1, 0).astype(bool)
    score = a(0.9, 0.1, 0.8, 0.7, 0.1)
    # top 2 cards: card 1 (best 0.9, a fraud among its transactions) and card 2 (no fraud)
    assert card_precision_at_k(day, card, fraud, score, k=2) == 0.5
    assert card_precision_at_k(day, card, fraud, score, k=3) == 2 / 3
    assert card_precision_at_k(day, card, fraud, score, k=10) == 0.2  # fewer cards than k: still / k


def test_a_card_found_compromised_is_not_ranked_again_on_later_days() -> None:
    day = a(0, 0, 1, 1).astype(np.int64)
    card = a(1, 2, 1, 2).astype(np.int64)
    fraud = a(1, 0, 1, 1).astype(bool)
    score = a(0.9, 0.1, 0.9, 0.2)
    # day 0: card 1 found; day 1: card 1 no longer ranked, card 2's fraud is the top 1
    assert card_precision_at_k(day, card, fraud, score, k=1) == 1.0
    # without removal day 1 would rank card 1 again; with k=2 day 1 counts card 2 only once
    assert card_precision_at_k(day, card, fraud, score, k=2) == (0.5 + 0.5) / 2


def test_evaluate_perfect_and_reversed_scores() -> None:
    day = np.zeros(4, dtype=np.int64)
    card = np.arange(4, dtype=np.int64)
    fraud = a(0, 0, 1, 1).astype(bool)
    good = evaluate(day, card, fraud, a(0.1, 0.2, 0.8, 0.9), k=2)
    bad = evaluate(day, card, fraud, a(0.9, 0.8, 0.2, 0.1), k=2)
    assert (good.auc_roc, good.average_precision, good.card_precision_at_k) == (1.0, 1.0, 1.0)
    assert bad.auc_roc == 0.0 and bad.card_precision_at_k == 0.0


def test_split_skips_the_delay_and_drops_cards_known_compromised_by_each_test_day() -> None:
    p = Protocol(train_days=2, delay_days=2, test_days=2)
    # days: train 10-11, delay 12-13, test 14-15
    day = a(10, 11, 12, 13, 14, 14, 14, 15, 15, 15).astype(np.int64)
    card = a(1, 2, 3, 4, 1, 3, 5, 1, 3, 4).astype(np.int64)
    fraud = a(1, 0, 1, 0, 0, 0, 0, 0, 0, 0).astype(bool)
    s = split(day, card, fraud, train_start=10, p=p)
    assert s.train.tolist() == [0, 1]
    # day 14: card 1 known (fraud on day 10); card 3's fraud on day 12 is not yet delay-old
    # day 15: card 3's fraud (day 12 < 15 - 2) is known now
    assert s.test.tolist() == [5, 6, 9]
