"""Point-in-time features: one incremental state, used per batch in serving and once in bulk for training."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from model import windows as win
from model.runs import SortedRuns

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
DAY_S = 86_400
# Bumped whenever a feature's definition changes: a model trained on another version is refused.
FEATURE_VERSION = "pit-1"


@dataclass(frozen=True)
class FeatureConfig:
    """Window lengths and the label delay; part of a model's identity (stored in its card)."""

    card_windows_days: tuple[int, ...] = (1, 7, 30)
    terminal_windows_days: tuple[int, ...] = (1, 7, 30)
    label_delay_days: int = 7  # a merchant's window ends this long before the transaction

    def names(self) -> tuple[str, ...]:
        """The feature columns, in order."""
        card = [f"card_{k}_{w}d" for w in self.card_windows_days for k in ("count", "avg_amount")]
        ratio = [f"amount_over_card_avg_{w}d" for w in self.card_windows_days if w > 1]
        term = [f"terminal_{k}_{w}d" for w in self.terminal_windows_days for k in ("count", "fraud_rate")]
        return ("amount", "hour", "night", "weekend", *card, *ratio, *term)


@dataclass(frozen=True)
class Events:
    """A batch of transactions in arrival order (card and terminal as integer ids)."""

    ts: I64  # event time, epoch seconds
    card: I64
    terminal: I64
    amount_cents: I64

    def __post_init__(self) -> None:
        n = len(self.ts)
        if any(len(a) != n for a in (self.card, self.terminal, self.amount_cents)):
            raise ValueError("Events: ts, card, terminal and amount_cents must have the same length")
        win.check_keys_times(self.card, self.ts, "Events.card")
        win.check_keys_times(self.terminal, self.ts, "Events.terminal")


@dataclass(frozen=True)
class Labels:
    """Fraud labels: the labelled transaction (id, terminal, event time) and when the label became known."""

    tx_id: I64
    terminal: I64
    txn_ts: I64
    known_at: I64  # the label's own event time (a chargeback's date, an analyst's decision)

    def __post_init__(self) -> None:
        n = len(self.tx_id)
        if any(len(a) != n for a in (self.terminal, self.txn_ts, self.known_at)):
            raise ValueError("Labels: tx_id, terminal, txn_ts and known_at must have the same length")
        win.check_keys_times(self.terminal, self.txn_ts, "Labels.terminal")
        win.check_keys_times(self.terminal, self.known_at, "Labels.known_at")


def _empty() -> I64:
    return np.zeros(0, dtype=np.int64)


@dataclass
class FeatureState:
    """What the features need of the past: recent card and terminal events and the fraud labels known.

    `transform(batch)` returns the batch's features and then remembers the batch; a transaction at
    time t sees only events that arrived before it (or itself) with event time <= t, and a fraud
    label only when the label is known by t and its transaction is at least the label delay old.
    Calling it once with everything (training) or batch by batch (serving) gives byte-equal
    features for streams in event-time order (a late event is not added to features already given).
    """

    config: FeatureConfig = field(default_factory=FeatureConfig)
    # Earlier batches' card amounts and terminal events; what the watermark has expired is never
    # read again (the queries start after it) and is dropped as the runs merge.
    _cards: SortedRuns = field(default_factory=SortedRuns)
    _terms: SortedRuns = field(default_factory=SortedRuns)
    _labels: Labels = field(default_factory=lambda: Labels(_empty(), _empty(), _empty(), _empty()))
    _intervals: dict[int, tuple[I64, I64]] = field(default_factory=dict)
    _watermark: int = -1

    def add_labels(self, labels: Labels) -> None:
        """Remember fraud labels; a transaction labelled twice counts once, from its earliest label."""
        cat = Labels(*(np.concatenate([getattr(self._labels, f), getattr(labels, f)]) for f in _LABEL_FIELDS))
        order = np.lexsort((cat.known_at, cat.tx_id))
        first = np.ones(len(order), dtype=bool)
        first[1:] = cat.tx_id[order][1:] != cat.tx_id[order][:-1]
        keep = order[first]
        self._labels = Labels(*(getattr(cat, f)[keep] for f in _LABEL_FIELDS))
        self._intervals = {}

    def transform(self, batch: Events, remember: bool = True) -> F64:
        """The batch's feature matrix (rows in batch order, columns `config.names()`); then remember
        it. `remember=False`: the rows are already in the history (a resend, a replayed batch), so they
        are scored as they were first seen, their own entries not counted twice, and not added."""
        cfg = self.config
        n = len(batch.ts)
        ts = batch.ts
        amount = batch.amount_cents / 100.0
        hour = (ts // 3600) % 24
        weekday = (ts // DAY_S + 3) % 7  # 1970-01-01 was a Thursday: Monday = 0
        cols: list[F64] = [
            amount,
            hour.astype(np.float64),
            (hour < 6).astype(np.float64),
            (weekday >= 5).astype(np.float64),
        ]

        # a row sees earlier batches (through the runs) and its own batch up to itself (trailing)
        card_seen = self._watermark - self._card_reach()  # older entries are expired
        avgs: dict[int, F64] = {}
        windows_s = tuple(w * DAY_S for w in cfg.card_windows_days)
        sums = win.trailing(batch.card, ts, batch.amount_cents, n, windows_s)
        olds = self._cards.count_sums(
            batch.card, [np.maximum(ts - w * DAY_S, card_seen) for w in cfg.card_windows_days], ts
        )
        for w, (new_count, new_total), (old_count, old_total) in zip(
            cfg.card_windows_days, sums, olds, strict=True
        ):
            count, total = new_count + old_count, new_total + old_total
            if not remember:  # the batch's rows are in the history (unless expired): counted there only
                held = ts > card_seen
                count, total = np.where(held, old_count, count), np.where(held, old_total, total)
            with np.errstate(invalid="ignore", divide="ignore"):  # no entry in the window: NaN, "missing"
                avgs[w] = total / count / 100.0
            cols += [count.astype(np.float64), avgs[w]]
        for w in cfg.card_windows_days:
            if w > 1:
                cols.append(np.divide(amount, avgs[w], out=np.ones(n), where=avgs[w] > 0))

        term_sorted = np.sort(win.pack(batch.terminal, ts))
        term_seen = self._watermark - self._term_reach()
        delay = cfg.label_delay_days * DAY_S
        hi = ts - delay
        los = [ts - delay - w * DAY_S for w in cfg.terminal_windows_days]
        olds = self._terms.count_sums(batch.terminal, [np.maximum(lo, term_seen) for lo in los], hi)
        for w, lo, (old, _) in zip(cfg.terminal_windows_days, los, olds, strict=True):
            count = win.count_between(term_sorted, batch.terminal, lo, hi) + old
            if not remember and delay == 0:  # with no delay the window holds the batch's rows already
                count = np.where(ts > term_seen, old, count)
            starts, ends = self._label_intervals(w)
            frauds = win.count_upto(starts, batch.terminal, ts) - win.count_upto(ends, batch.terminal, ts)
            rate = np.divide(frauds, count, out=np.zeros(n), where=count > 0)
            cols += [count.astype(np.float64), np.minimum(rate, 1.0)]

        if remember:
            self.add_events(batch)
        return np.column_stack(cols) if n else np.zeros((0, len(cfg.names())))

    def _label_intervals(self, window_days: int) -> tuple[I64, I64]:
        """Sorted packed (terminal, from) and (terminal, until) of the times t at which each label
        counts: its transaction in (t - delay - w, t - delay] and the label known by t."""
        if window_days not in self._intervals:
            lab, delay = self._labels, self.config.label_delay_days * DAY_S
            start = np.maximum(lab.txn_ts + delay, lab.known_at)
            end = lab.txn_ts + delay + window_days * DAY_S
            live = start < end  # a label known after its window closed never counts
            self._intervals[window_days] = (
                np.sort(win.pack(lab.terminal[live], start[live])),
                np.sort(win.pack(lab.terminal[live], end[live])),
            )
        return self._intervals[window_days]

    def _card_reach(self) -> int:
        return max(self.config.card_windows_days) * DAY_S

    def _term_reach(self) -> int:
        return (self.config.label_delay_days + max(self.config.terminal_windows_days)) * DAY_S

    @property
    def remembered(self) -> int:
        """How many card and terminal entries the state holds (expired ones until their runs merge)."""
        return len(self._cards) + len(self._terms)

    def advance(self, newest: int) -> None:
        """Move the watermark to `newest` without adding events (a batch not remembered), so that
        history keeps expiring."""
        self._watermark = max(self._watermark, newest)

    def compact(self) -> None:
        """Drop every expired entry now (they otherwise go when runs merge)."""
        self._cards.compact(self._watermark - self._card_reach())
        self._terms.compact(self._watermark - self._term_reach())

    def add_events(self, batch: Events) -> None:
        """Remember a batch without its features (transform's second half): keep what a later
        transaction (at or after the newest event time) can still see."""
        if len(batch.ts):
            self._watermark = max(self._watermark, int(batch.ts.max()))
        card_cut, term_cut = self._watermark - self._card_reach(), self._watermark - self._term_reach()
        self._cards.add(batch.card, batch.ts, batch.amount_cents, card_cut)
        self._terms.add(batch.terminal, batch.ts, np.zeros(len(batch.ts), dtype=np.int64), term_cut)
        lab = self._labels
        live = lab.txn_ts > term_cut
        if not live.all():
            self._labels = Labels(*(getattr(lab, f)[live] for f in _LABEL_FIELDS))
            self._intervals = {}


_LABEL_FIELDS = ("tx_id", "terminal", "txn_ts", "known_at")


def compute_features(
    events: Events, labels: Labels, config: FeatureConfig | None = None, native: bool = True
) -> F64:
    """Bulk: every transaction's features in one call of the same state (training, backtests): the
    native state when built, as serving uses (model/native_features.py), else this module's."""
    from model.native_features import feature_state  # it imports this module

    state = feature_state(config or FeatureConfig(), native)
    state.add_labels(labels)
    return state.transform(events)
