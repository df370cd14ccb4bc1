"""Online scoring: a model scores each batch on the features training computes (the same FeatureState).

The state outlives any one model (every accepted model has the same feature version and windows),
so promoting a champion keeps the history already seen. String ids become dense integers here, in
the order first seen; a feature never reads an id's value, only which rows share it. Fraud labels
name a transaction id, so the merchant and time of every transaction the merchant windows can still
reach are kept to place a label that arrives days later.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from common.labels import FRAUD, Label
from common.schema import Transaction, event_epoch_ms
from model.explain import explain
from model.features import DAY_S, Events, FeatureConfig, FeatureState, Labels
from model.join import IdMap, usd_cents
from model.windows import MAX_KEY

F64 = npt.NDArray[np.float64]
MAX_EARLY_LABELS = 100_000  # fraud labels held for a transaction not yet seen


@dataclass(frozen=True)
class Row:
    """One transaction as serving reads it (amount in US cents, event time in seconds)."""

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


class BatchScores:
    """One batch's scores in [0, 1], by row; the reasons of a row are worked out when first asked."""

    def __init__(self, booster: Any, names: tuple[str, ...], x: F64, scores: F64, version: str) -> None:
        self._booster, self._names, self._x = booster, names, x
        self.scores, self.version = scores, version
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


class HistoryFull(RuntimeError):
    """The state would exceed its bound: features would be wrong, so nothing is scored."""


class OnlineScorer:
    """The feature history of one bridge and the fraud labels it knows; `score` one batch at a time."""

    def __init__(self, config: FeatureConfig, max_events: int) -> None:
        self.config, self.max_events = config, max_events
        self.state = FeatureState(config)
        self._cards, self._merchants, self._labelled = IdMap(), IdMap(), IdMap()
        self._placed: dict[str, tuple[int, int]] = {}  # txn id -> (merchant id, event time s)
        self._order: deque[tuple[int, str]] = deque()  # (event time s, txn id) to forget placements
        self.reach_s = (config.label_delay_days + max(config.terminal_windows_days)) * DAY_S
        self._newest = -1
        self._early: dict[str, list[Label]] = {}  # fraud labels that came before their transaction
        self.seen = 0  # transactions fed
        self.labels_used = 0  # fraud labels placed on a remembered transaction
        self.labels_unplaced = 0  # fraud labels whose transaction this state never saw (or forgot)

    @property
    def remembered(self) -> int:
        """History entries held (card and merchant windows) plus transactions placed for labels."""
        return self.state.remembered + len(self._placed)

    def add_labels(self, labels: Iterable[Label]) -> None:
        """Fraud labels of remembered transactions join the merchant windows (from their own time)."""
        rows = []
        for label in labels:
            if label.label != FRAUD:
                continue  # as training: a later "legitimate" does not retract a fraud label
            placed = self._placed.get(label.txn_id)
            if placed is None:
                if len(self._early) < MAX_EARLY_LABELS:  # its transaction may be on its way
                    self._early.setdefault(label.txn_id, []).append(label)
                else:
                    self.labels_unplaced += 1
                continue
            rows.append((self._labelled(label.txn_id), *placed, label.label_ms // 1000))
        if rows:
            a = np.array(rows, dtype=np.int64)
            self.state.add_labels(Labels(tx_id=a[:, 0], terminal=a[:, 1], txn_ts=a[:, 2], known_at=a[:, 3]))
            self.labels_used += len(rows)

    def features(self, rows: Sequence[Row]) -> F64:
        """The batch's feature rows (then remembered); HistoryFull when the bound would be passed."""
        if self.remembered + 3 * len(rows) > self.max_events:
            raise HistoryFull(
                f"feature history at its bound ({self.remembered:,} of {self.max_events:,} entries)"
            )
        if len(self._cards.ids) + len(rows) >= MAX_KEY or len(self._merchants.ids) + len(rows) >= MAX_KEY:
            raise HistoryFull("more distinct cards or merchants than the feature state can number")
        ids = {r.txn_id for r in rows}
        # dict keys' isdisjoint walks the batch's ids (a set's would walk the whole history)
        if len(ids) == len(rows) and self._placed.keys().isdisjoint(ids):
            return self._features(rows, remember=True)
        # A transaction seen before counts once, as in training: a copy inside the batch gets its
        # first's row; a copy of an earlier batch's (a resend, or one the warm-up read too) is scored
        # on the history without being added again, and so sees itself twice (a known approximation).
        fresh: list[int] = []
        older: list[int] = []
        copy_of: dict[int, int] = {}
        first_at: dict[str, int] = {}
        for i, r in enumerate(rows):
            if r.txn_id in self._placed:
                older.append(i)
            elif r.txn_id in first_at:
                copy_of[i] = first_at[r.txn_id]
            else:
                first_at[r.txn_id] = i
                fresh.append(i)
        x = np.zeros((len(rows), len(self.config.names())))
        x[older] = self._features([rows[i] for i in older], remember=False)  # before fresh ones join
        x[fresh] = self._features([rows[i] for i in fresh], remember=True)
        for i, j in copy_of.items():
            x[i] = x[j]
        return x

    def _features(self, rows: Sequence[Row], remember: bool) -> F64:
        n = len(rows)
        card = np.fromiter((self._cards(r.card_id) for r in rows), dtype=np.int64, count=n)
        term = np.fromiter((self._merchants(r.merchant_id) for r in rows), dtype=np.int64, count=n)
        ts = np.fromiter((r.ts_s for r in rows), dtype=np.int64, count=n)
        cents = np.fromiter((r.amount_cents for r in rows), dtype=np.int64, count=n)
        x = self.state.transform(Events(ts=ts, card=card, terminal=term, amount_cents=cents), remember)
        if not remember:
            return x
        for r, m in zip(rows, term.tolist(), strict=True):
            self._placed[r.txn_id] = (m, r.ts_s)
            self._order.append((r.ts_s, r.txn_id))
        self._newest = max(self._newest, int(ts.max())) if n else self._newest
        self._forget()
        early = [label for r in rows for label in self._early.pop(r.txn_id, ())] if self._early else []
        if early:  # they count from the next batch on, as any label known by then
            self.add_labels(early)
        self.seen += n
        return x

    def _forget(self) -> None:
        """Placements older than the merchant windows' reach: a label on them can no longer count."""
        cut, order = self._newest - self.reach_s, self._order
        while order and order[0][0] <= cut:
            _, txn_id = order.popleft()
            placed = self._placed.get(txn_id)
            if placed is not None and placed[1] <= cut:
                del self._placed[txn_id]
        if self._early and len(self._early) % 1000 == 0:  # now and then: labels of transactions long gone
            for txn_id in [k for k, v in self._early.items() if 0 < v[0].txn_ms // 1000 <= cut]:
                self.labels_unplaced += len(self._early.pop(txn_id))

    def score(self, rows: Sequence[Row], model: Any, version: str) -> BatchScores:
        """Features of the batch, then the model's probabilities (model: a model.store.LoadedModel)."""
        x = self.features(rows)
        scores = np.asarray(model.booster.predict(x), dtype=np.float64) if len(rows) else np.zeros(0)
        return BatchScores(model.booster, self.config.names(), x, scores, version)
