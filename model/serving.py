"""Online scoring: a model scores each batch on the features training computes (the same FeatureState).

The state outlives any one model (every accepted model has the same feature version and windows),
so promoting a champion keeps the history already seen. Its ids and placements (which merchant
and time each transaction had, for a label that comes days later) are model/serving_keys.py's; the
rows in and the scores out, model/serving_rows.py's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from common.labels import FRAUD, Label
from common.schema import Transaction, event_epoch_ms
from model.features import DAY_S, Events, FeatureConfig, Labels
from model.native_features import feature_state
from model.native_trees import scores_of
from model.serving_keys import BAD_TIME, COPY, FRESH, OLDER, Kinds, serving_keys
from model.serving_rows import BatchScores, Columns, Row
from model.windows import MAX_TIME

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MAX_EARLY_LABELS = 100_000  # fraud labels held for a transaction not yet seen
MAX_AHEAD_S = 86_400  # an event time further ahead of the wall clock is refused


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
        native_trees: bool = True,
    ) -> None:
        self.config, self.max_events, self._clock = config, max_events, clock
        self._native_trees = native_trees  # model/native_trees.py: the same scores, faster
        # the native state when built: the same features (model/native_features.py), found faster
        self.state = feature_state(config, native)
        self.keys = serving_keys(native)  # ids and placements (model/serving_keys.py)
        self.reach_s = (config.label_delay_days + max(config.terminal_windows_days)) * DAY_S
        self._newest = -1
        self._early: dict[str, list[Label]] = {}  # fraud labels that came before their transaction
        self.seen = 0  # transactions fed
        self.tailed = 0  # transactions another bridge scores, remembered (`remember`)
        self.labels_used = 0  # fraud labels placed on a remembered transaction
        self.labels_unplaced = 0  # fraud labels whose transaction this state never saw (or forgot)
        self.bad_times = 0  # events and labels refused for an impossible time (never in the history)
        self._forgets = 0

    @property
    def remembered(self) -> int:
        """History entries held (card and merchant windows) plus transactions placed for labels."""
        return self.state.remembered + self.keys.placed_count

    @property
    def ids_held(self) -> int:
        """Cards, merchants and labelled transactions numbered so far: kept for the state's life (an
        id that left every window is not forgotten), so its owner renews the state past a bound."""
        return self.keys.held

    @property
    def newest(self) -> int:
        """The newest event time (s) of a transaction added (-1: none yet)."""
        return self._newest

    @property
    def reads_engine(self) -> bool:
        """The native engine's parsed batch can be numbered straight into these keys (score_engine)."""
        return self.keys.native is not None

    def add_labels(self, labels: Iterable[Label]) -> None:
        """Fraud labels of remembered transactions join the merchant windows (from their own time)."""
        rows = []
        for label in labels:
            if label.label != FRAUD:
                continue  # as training: a later "legitimate" does not retract a fraud label
            if not self._possible(label.label_ms // 1000):
                self.bad_times += 1
                continue
            placed = self.keys.placed_at(label.txn_id)
            if placed is None:
                if len(self._early) < MAX_EARLY_LABELS:  # its transaction may be on its way
                    self._early.setdefault(label.txn_id, []).append(label)
                else:
                    self.labels_unplaced += 1
                continue
            rows.append((self.keys.label_id(label.txn_id), *placed, label.label_ms // 1000))
        if rows:
            a = np.array(rows, dtype=np.int64)
            self.state.add_labels(Labels(tx_id=a[:, 0], terminal=a[:, 1], txn_ts=a[:, 2], known_at=a[:, 3]))
            self.labels_used += len(rows)

    def _possible(self, ts_s: int) -> bool:
        """An event time the history can take: after 1970, before the packed keys' end, and not more
        than a day ahead of the wall clock (one such event would move the watermark and forget all)."""
        return 0 <= ts_s < MAX_TIME and ts_s <= self._clock() + MAX_AHEAD_S

    def _latest_possible(self) -> int:
        return math.floor(self._clock() + MAX_AHEAD_S)

    def remember(self, rows: Sequence[Row]) -> None:
        """Remember rows without their features: transactions of partitions another bridge scores
        (bridge/model_tail.py), so that merchant windows and label placements span the whole topic as
        training's do. Rows with an impossible time are skipped (their owner counts them)."""
        good = [r for r in rows if self._possible(r.ts_s)]
        if good:
            txn_ids, secs, cards, merchants, cents = zip(*good, strict=True)
            self._join_rows(txn_ids, np.array(secs, dtype=np.int64), cards, merchants, cents, score=False)

    def features(self, rows: Sequence[Row]) -> tuple[F64, npt.NDArray[np.bool_]]:
        """The batch's feature rows (then remembered) and which rows have them: a row with an
        impossible time gets zeros and False (counted in `bad_times`). HistoryFull at the bound."""
        n = len(rows)
        txn_ids, secs_of, cards, merchants, cents = zip(*rows, strict=True) if n else ((), (), (), (), ())
        secs = np.array(secs_of, dtype=np.int64)
        ok = (secs >= 0) & (secs < MAX_TIME) & (secs <= self._latest_possible())  # as _possible
        if not ok.all():
            self.bad_times += int((~ok).sum())
            x = np.zeros((n, len(self.config.names())))
            good = [r for r, fine in zip(rows, ok, strict=True) if fine]
            x[ok] = self.features(good)[0] if good else x[ok]
            return x, ok
        return self._join_rows(txn_ids, secs, cards, merchants, cents, score=True), ok

    def _join_rows(
        self,
        txn_ids: Sequence[str],
        secs: I64,
        cards: Sequence[str],
        merchants: Sequence[str],
        cents: Sequence[int],
        *,
        score: bool,
    ) -> F64:
        """`_join` of rows (as columns) with possible times, numbered and placed through the keys."""
        self._check_bound(secs)
        kinds = self.keys.classify(txn_ids)
        card, term = self.keys.number(cards, merchants)
        columns = Columns(secs, card, term, np.array(cents, dtype=np.int64))

        def ids_of(at: I64) -> list[str]:
            return [txn_ids[i] for i in at.tolist()]

        def place(at: I64) -> None:
            self.keys.place(ids_of(at), term[at], secs[at])

        return self._join(columns, kinds, place, ids_of, score=score)

    def features_of_engine(
        self, engine: Any, rates: Mapping[str, float], decoded: Sequence[tuple[int, Transaction]] = ()
    ) -> tuple[I64, F64, npt.NDArray[np.bool_]]:
        """`features` of the native engine's scanned batch (fraud_native.Engine) with the records
        Python `decoded` (record index, event) slotted in by index, numbered in native code without
        a Python object per parsed event: each row's record index, its features, which rows have
        them. The same rows as `features` of the Rows of the batch in record order; only for keys
        that `reads_engine`."""
        ids = self.keys.native
        slow = [
            (i, e.txn_id, event_epoch_ms(e), e.card_id, e.merchant_id, e.amount, e.currency)
            for i, e in decoded
        ]
        raw = engine.model_columns(ids, dict(rates), self._latest_possible(), MAX_TIME, slow)
        index, secs, card, term, cents = (np.frombuffer(r, dtype=np.int64) for r in raw[:5])
        kinds = Kinds(np.frombuffer(raw[5], dtype=np.int8), np.frombuffer(raw[6], dtype=np.int64))
        ok = kinds.kind != BAD_TIME
        columns = Columns(secs, card, term, cents)
        good = np.flatnonzero(ok)
        if len(good) < len(ok):
            self.bad_times += len(ok) - len(good)
            at = np.cumsum(ok) - 1  # a row's place among the good ones (a copy's first is good)
            first = np.where(kinds.first >= 0, at[kinds.first], -1)
            columns, kinds = columns.take(good), Kinds(kinds.kind[good], first[good])
        x = np.zeros((len(ok), len(self.config.names())))
        if len(good):
            self._check_bound(columns.secs)

            def ids_of(rows: I64) -> list[str]:  # only for labels that came early: rare
                parsed = engine.columns()
                txn_ids = {
                    **dict(zip(parsed[0], parsed[1], strict=True)),
                    **{i: e.txn_id for i, e in decoded},
                }
                return [txn_ids[i] for i in index[good[rows]].tolist()]

            def place(rows: I64) -> None:
                engine.model_place(ids, index[good[rows]].tobytes())

            x[good] = self._join(columns, kinds, place, ids_of)
        return index, x, ok

    def _check_bound(self, secs: I64) -> None:
        """HistoryFull when the batch would pass the bound even after dropping what has expired; the
        watermark still moves on, so the history keeps expiring and scoring resumes below the bound."""
        if self.remembered + 3 * len(secs) <= self.max_events:
            return
        self.state.compact()
        if self.remembered + 3 * len(secs) <= self.max_events:
            return
        if len(secs):
            self._newest = max(self._newest, int(secs.max()))
            self.state.advance(self._newest)
            self._forget()
        raise HistoryFull(
            f"feature history at its bound ({self.remembered:,} of {self.max_events:,} entries)"
        )

    def _join(
        self,
        columns: Columns,
        kinds: Kinds,
        place: Callable[[I64], None],
        ids_of: Callable[[I64], list[str]],
        score: bool = True,
    ) -> F64:
        """The features of a batch of possible rows. A transaction seen before counts once, as in
        training: a copy inside the batch gets its first's row; a copy of an earlier batch's (a
        resend, a replayed batch, one the warm-up read too) is scored as it was first seen, without
        being added again. Fresh rows are then remembered and placed for labels (only that, and an
        empty matrix returned, when not `score`)."""
        n = len(columns.secs)
        fresh = np.flatnonzero(kinds.kind == FRESH)
        if not score:
            x = np.zeros((0, len(self.config.names())))
            fresh_columns = columns.take(fresh)
            self.state.add_events(Events(*fresh_columns))
        elif len(fresh) == n:  # the usual batch
            x = self._transform(columns, remember=True)
        else:
            x = np.zeros((n, len(self.config.names())))
            older = np.flatnonzero(kinds.kind == OLDER)
            if len(older):  # before the fresh ones join
                x[older] = self._transform(columns.take(older), remember=False)
            if len(fresh):
                x[fresh] = self._transform(columns.take(fresh), remember=True)
            copies = np.flatnonzero(kinds.kind == COPY)
            x[copies] = x[kinds.first[copies]]
        if len(fresh):
            place(fresh)
            self._newest = max(self._newest, int(columns.secs[fresh].max()))
            self._forget()
            early = [label for t in ids_of(fresh) for label in self._early.pop(t, ())] if self._early else []
            if early:  # they count from the next batch on, as any label known by then
                self.add_labels(early)
            if score:
                self.seen += len(fresh)
            else:
                self.tailed += len(fresh)
        return x

    def _transform(self, columns: Columns, remember: bool) -> F64:
        secs, card, term, cents = columns
        events = Events(ts=secs, card=card, terminal=term, amount_cents=cents)
        return self.state.transform(events, remember)

    def _forget(self) -> None:
        """Placements older than the merchant windows' reach: a label on them can no longer count."""
        cut = self._newest - self.reach_s
        self.keys.forget(cut)
        self._forgets += 1
        if self._early and self._forgets % 256 == 0:  # now and then: labels whose transaction is long gone
            gone = [k for k, v in self._early.items() if (v[0].txn_ms or v[0].label_ms) // 1000 <= cut]
            for txn_id in gone:
                self.labels_unplaced += len(self._early.pop(txn_id))

    def score(self, rows: Sequence[Row], model: Any, version: str) -> BatchScores:
        """Features of the batch, then the model's probabilities (model: a model.store.LoadedModel);
        a row with an impossible time is not scored (0)."""
        x, ok = self.features(rows)
        return self._predict(x, ok, model, version)

    def score_engine(
        self,
        engine: Any,
        rates: Mapping[str, float],
        decoded: Sequence[tuple[int, Transaction]],
        model: Any,
        version: str,
    ) -> tuple[I64, BatchScores]:
        """`score` of the native engine's batch (features_of_engine): record indices, scores."""
        index, x, ok = self.features_of_engine(engine, rates, decoded)
        return index, self._predict(x, ok, model, version)

    def _predict(self, x: F64, ok: npt.NDArray[np.bool_], model: Any, version: str) -> BatchScores:
        scores = np.zeros(len(x))
        if ok.any():
            scores[ok] = scores_of(model, x[ok], self._native_trees)
        out = BatchScores(model.booster, self.config.names(), x, scores, version)
        out.scored = ok
        return out
