"""Why the model scored a transaction high: its top contributing features, in words, with their values.

LightGBM gives each feature's contribution to a row's raw score (`pred_contrib`: log-odds, the
last column the bias; they sum to the raw score exactly), the trees' own attribution (TreeSHAP).
A reason is a feature that pushed the score up, phrased from its name and value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

_WINDOWED = re.compile(r"^(?P<kind>.+)_(?P<days>\d+)d$")


@dataclass(frozen=True)
class Reason:
    """One feature's push towards fraud on one transaction."""

    feature: str
    value: float
    contribution: float  # log-odds added to the score
    text: str


def phrase(feature: str, value: float) -> str:
    """A feature and its value as an analyst reads them (model.features.FeatureConfig.names)."""
    found = _WINDOWED.match(feature)
    kind, days = (found.group("kind"), int(found.group("days"))) if found else (feature, 0)
    n = int(value)
    s = "" if n == 1 else "s"
    texts = {
        "amount": f"amount ${value:,.2f}",
        "hour": f"at {int(value):02d}:00",
        "night": "at night" if value else "in the daytime",
        "weekend": "on a weekend" if value else "on a weekday",
        "card_count": f"{n} transaction{s} on the card in {days} d",
        "card_avg_amount": f"the card's {days}-day average ${value:,.2f}",
        "amount_over_card_avg": f"amount {value:.1f}\u00d7 the card's {days}-day average",
        "terminal_count": f"{n} transaction{s} at the merchant in {days} d (labelled window)",
        "terminal_fraud_rate": f"merchant fraud rate {value:.0%} over {days} d",
    }
    return texts.get(kind, f"{feature} = {value:g}")


def explain(
    booster: Any, x: npt.NDArray[np.float64], names: tuple[str, ...], top: int = 3
) -> list[list[Reason]]:
    """Per row, up to `top` features that raised its score most (only those that raised it)."""
    contrib = np.asarray(booster.predict(x, pred_contrib=True), dtype=np.float64)
    if contrib.shape != (len(x), len(names) + 1):
        raise ValueError(f"contributions of shape {contrib.shape}, expected {(len(x), len(names) + 1)}")
    out: list[list[Reason]] = []
    for row, parts in zip(x, contrib[:, :-1], strict=True):
        order = np.argsort(-parts, kind="stable")[:top]
        out.append(
            [
                Reason(names[i], float(row[i]), float(parts[i]), phrase(names[i], float(row[i])))
                for i in order
                if parts[i] > 0
            ]
        )
    return out
