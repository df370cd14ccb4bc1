"""One batch of online scoring: the rows in (`Row`, as training reads a transaction; `Columns`, as
the feature state takes them) and the scores out (`BatchScores`, with the reasons of a row worked
out when first asked)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from common.schema import Transaction, event_epoch_ms
from model.explain import explain
from model.join import Txn, usd_cents, usd_cents_many

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class Columns(NamedTuple):
    """A batch's rows as the feature state takes them: event times (s), card and merchant ids, cents."""

    secs: I64
    cards: I64
    terms: I64
    cents: I64

    def take(self, rows: I64) -> Columns:
        return Columns(*(col[rows] for col in self))


class Row(NamedTuple):
    """One transaction as serving reads it (amount in US cents, event time in seconds); a tuple, as
    the native path builds one per event from its columns."""

    txn_id: str
    ts_s: int
    card_id: str
    merchant_id: str
    amount_cents: int

    @classmethod
    def of(cls, event: Transaction, rates: Mapping[str, float]) -> Row:
        """A validated event as training reads it from the topic (model.topics)."""
        cents = usd_cents(event.amount, event.currency, rates)
        return cls(event.txn_id, event_epoch_ms(event) // 1000, event.card_id, event.merchant_id, cents)

    @classmethod
    def of_txn(cls, txn: Txn) -> Row:
        """A transaction read back from the topic (model.topics, amounts already in US cents)."""
        return cls(txn.txn_id, txn.ts_ms // 1000, txn.card_id, txn.merchant_id, txn.amount_cents)

    @classmethod
    def of_columns(cls, columns: tuple[Sequence[Any], ...], rates: Mapping[str, float]) -> list[Row]:
        """The rows of events given as columns (the native engine's parse: txn ids, event times in
        ms, cards, merchants, amounts, currencies), exactly as `of` makes them one by one: the cents
        vectorised (usd_cents_many), the seconds floored."""
        txn_ids, ts_ms, cards, merchants, amounts, currencies = columns
        cents = usd_cents_many(amounts, currencies, rates).tolist()
        secs = [t // 1000 for t in ts_ms]
        # tuple.__new__ straight from C: the NamedTuple's own __new__ is a Python call per event
        return list(map(tuple.__new__, repeat(cls), zip(txn_ids, secs, cards, merchants, cents, strict=True)))


class BatchScores:
    """One batch's scores in [0, 1], by row; the reasons of a row are worked out when first asked."""

    def __init__(self, booster: Any, names: tuple[str, ...], x: F64, scores: F64, version: str) -> None:
        self._booster, self._names, self._x = booster, names, x
        self.scores, self.version = scores, version
        self.scored = np.ones(len(scores), dtype=bool)  # False: a row with an impossible time
        self._reasons: dict[int, str] = {}

    @property
    def x(self) -> F64:
        """The batch's feature rows (shadow models score the same rows)."""
        return self._x

    def reasons(self, row: int, top: int = 3) -> str:
        """The row's top features that raised its score, in words ("" when none did)."""
        if row not in self._reasons:
            # one call for every row scored at least as high: a rule over a score threshold asks for
            # them all (an alert storm), and contributions cost far more per call than per row
            ask = [
                int(i) for i in np.flatnonzero(self.scores >= self.scores[row]) if int(i) not in self._reasons
            ]
            for i, found in zip(ask, explain(self._booster, self._x[ask], self._names, top), strict=True):
                self._reasons[i] = "; ".join(r.text for r in found)
        return self._reasons[row]
