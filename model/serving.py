"""Online scoring: a model scores each batch on the features training computes (the same FeatureState).

The state outlives any one model (every accepted model has the same feature version and windows),
so promoting a champion keeps the history already seen. String ids become dense integers here, in
the order first seen; a feature never reads an id's value, only which rows share it. Fraud labels
name a transaction id, so the merchant and time of every transaction the merchant windows can still
reach are kept to place a label that arrives days later.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from common.labels import FRAUD, Label
from common.schema import Transaction, event_epoch_ms
from model.explain import explain
from model.features import DAY_S, Events, FeatureConfig, Labels
from model.join import IdMap, Txn, usd_cents, usd_cents_many
from model.native_features import feature_state
from model.windows import MAX_TIME

F64 = npt.NDArray[np.float64]
MAX_EARLY_LABELS = 100_000  # fraud labels held for a transaction not yet seen
MAX_AHEAD_S = 86_400  # an event time further ahead of the wall clock is refused


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


class HistoryFull(RuntimeError):
    """The state would exceed its bound: features would be wrong, so nothing is scored."""


class OnlineScorer:
    """The feature history of one bridge and the fraud labels it knows; `score` one batch at a time."""

    def __init__(
        self,
        config: FeatureConfig,
        max_events: int,
        clock: Callable[[], float] = time.time,
        native: bool = True,
    ) -> None:
        self.config, self.max_events, self._clock = config, max_events, clock
        # the native state when built: the same features (model/native_features.py), found faster
        self.state = feature_state(config, native)
        self._cards, self._merchants, self._labelled = IdMap(), IdMap(), IdMap()
        self._placed: dict[str, tuple[int, int]] = {}  # txn id -> (merchant id, event time s)
        self._order: deque[tuple[int, str]] = deque()  # (event time s, txn id) to forget placements
        self.reach_s = (config.label_delay_days + max(config.terminal_windows_days)) * DAY_S
        self._newest = -1
        self._early: dict[str, list[Label]] = {}  # fraud labels that came before their transaction
        self.seen = 0  # transactions fed
        self.labels_used = 0  # fraud labels placed on a remembered transaction
        self.labels_unplaced = 0  # fraud labels whose transaction this state never saw (or forgot)
        self.bad_times = 0  # events and labels refused for an impossible time (never in the history)
        self._forgets = 0

    @property
    def remembered(self) -> int:
        """History entries held (card and merchant windows) plus transactions placed for labels."""
        return self.state.remembered + len(self._placed)

    @property
    def ids_held(self) -> int:
        """Cards, merchants and labelled transactions numbered so far: kept for the state's life (an
        id that left every window is not forgotten), so its owner renews the state past a bound."""
        return len(self._cards.ids) + len(self._merchants.ids) + len(self._labelled.ids)

    def add_labels(self, labels: Iterable[Label]) -> None:
        """Fraud labels of remembered transactions join the merchant windows (from their own time)."""
        rows = []
        for label in labels:
            if label.label != FRAUD:
                continue  # as training: a later "legitimate" does not retract a fraud label
            if not self._possible(label.label_ms // 1000):
                self.bad_times += 1
                continue
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

    def _possible(self, ts_s: int) -> bool:
        """An event time the history can take: after 1970, before the packed keys' end, and not more
        than a day ahead of the wall clock (one such event would move the watermark and forget all)."""
        return 0 <= ts_s < MAX_TIME and ts_s <= self._clock() + MAX_AHEAD_S

    def features(self, rows: Sequence[Row]) -> tuple[F64, npt.NDArray[np.bool_]]:
        """The batch's feature rows (then remembered) and which rows have them: a row with an
        impossible time gets zeros and False (counted in `bad_times`). HistoryFull at the bound."""
        secs = np.array([r.ts_s for r in rows], dtype=np.int64)
        ok = (secs >= 0) & (secs < MAX_TIME) & (secs <= self._clock() + MAX_AHEAD_S)  # as _possible
        x = np.zeros((len(rows), len(self.config.names())))
        if not ok.all():
            self.bad_times += int((~ok).sum())
            good = [r for r, fine in zip(rows, ok, strict=True) if fine]
            x[ok] = self.features(good)[0] if good else x[ok]
            return x, ok
        self._check_bound(rows)
        ids = {r.txn_id for r in rows}
        # dict keys' isdisjoint walks the batch's ids (a set's would walk the whole history)
        if len(ids) == len(rows) and self._placed.keys().isdisjoint(ids):
            return self._features(rows, remember=True), ok
        # A transaction seen before counts once, as in training: a copy inside the batch gets its
        # first's row; a copy of an earlier batch's (a resend, a replayed batch, one the warm-up read
        # too) is scored as it was first seen, without being added again.
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
        x[older] = self._features([rows[i] for i in older], remember=False)  # before fresh ones join
        x[fresh] = self._features([rows[i] for i in fresh], remember=True)
        for i, j in copy_of.items():
            x[i] = x[j]
        return x, ok

    def _check_bound(self, rows: Sequence[Row]) -> None:
        """HistoryFull when the batch would pass the bound even after dropping what has expired; the
        watermark still moves on, so the history keeps expiring and scoring resumes below the bound."""
        if self.remembered + 3 * len(rows) <= self.max_events:
            return
        self.state.compact()
        if self.remembered + 3 * len(rows) <= self.max_events:
            return
        if rows:
            self._newest = max([self._newest, *(r.ts_s for r in rows)])
            self.state.advance(self._newest)
            self._forget()
        raise HistoryFull(
            f"feature history at its bound ({self.remembered:,} of {self.max_events:,} entries)"
        )

    def _features(self, rows: Sequence[Row], remember: bool) -> F64:
        # Per event, only C-level loops (zip, dict.get in a comprehension): this runs on every event
        # of every batch while a champion is loaded.
        n = len(rows)
        txn_ids, secs, cards, merchants, cents = zip(*rows, strict=True) if n else ((), (), (), (), ())
        card = np.array(self._cards.ids_of(cards), dtype=np.int64)
        terms = self._merchants.ids_of(merchants)
        ts = np.array(secs, dtype=np.int64)
        events = Events(
            ts=ts,
            card=card,
            terminal=np.array(terms, dtype=np.int64),
            amount_cents=np.array(cents, dtype=np.int64),
        )
        x = self.state.transform(events, remember)
        if not remember:
            return x
        self._placed.update(zip(txn_ids, zip(terms, secs, strict=True), strict=True))
        self._order.extend(zip(secs, txn_ids, strict=True))
        self._newest = max(self._newest, int(ts.max())) if n else self._newest
        self._forget()
        early = [label for t in txn_ids for label in self._early.pop(t, ())] if self._early else []
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
        self._forgets += 1
        if self._early and self._forgets % 256 == 0:  # now and then: labels whose transaction is long gone
            gone = [k for k, v in self._early.items() if (v[0].txn_ms or v[0].label_ms) // 1000 <= cut]
            for txn_id in gone:
                self.labels_unplaced += len(self._early.pop(txn_id))

    def score(self, rows: Sequence[Row], model: Any, version: str) -> BatchScores:
        """Features of the batch, then the model's probabilities (model: a model.store.LoadedModel);
        a row with an impossible time is not scored (0)."""
        x, ok = self.features(rows)
        scores = np.zeros(len(rows))
        if ok.any():
            scores[ok] = np.asarray(model.booster.predict(x[ok]), dtype=np.float64)
        out = BatchScores(model.booster, self.config.names(), x, scores, version)
        out.scored = ok
        return out
