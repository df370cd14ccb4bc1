"""The handbook's data as the model core sees it: simulated, labelled with a delay, features built once."""

from __future__ import annotations

import numpy as np

from bench.handbook.simulator import DAY_S, SimParams, Transactions, simulate
from model.features import Events, FeatureConfig, Labels, compute_features
from model.train import Labelled


def ground_truth_labels(tx: Transactions, delay_days: int) -> Labels:
    """Every fraud labelled, the label known `delay_days` after its transaction (a chargeback)."""
    f = tx.fraud
    return Labels(tx.tx_id[f], tx.terminal[f], tx.ts[f], tx.ts[f] + delay_days * DAY_S)


def labelled(params: SimParams, config: FeatureConfig | None = None) -> tuple[Transactions, Labelled]:
    """Simulate and compute every transaction's point-in-time features in bulk."""
    cfg = config or FeatureConfig()
    tx = simulate(params)
    x = compute_features(
        Events(tx.ts, tx.card, tx.terminal, tx.amount_cents),
        ground_truth_labels(tx, cfg.label_delay_days),
        cfg,
    )
    return tx, Labelled(x=x, day=tx.day.astype(np.int64), card=tx.card, fraud=tx.fraud)
