"""Transactions and labels read from the topics, joined into the integer arrays the model core takes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from common.labels import FRAUD, Label, current_labels
from model.features import Events, Labels

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Txn:
    """One decoded transaction: string ids, event and record time, amount in US cents."""

    txn_id: str
    ts_ms: int  # event time
    card_id: str
    merchant_id: str
    amount_cents: int
    record_ms: int  # the Kafka timestamp: what --from/--to select on


def usd_cents(amount: float, currency: str, rates: Mapping[str, float]) -> int:
    """An amount in whole US cents as the features take it (at least 1: the schema refuses 0)."""
    return max(round(amount * rates.get(currency, 1.0) * 100), 1)


def usd_cents_many(amounts: Sequence[float], currencies: Sequence[str], rates: Mapping[str, float]) -> I64:
    """usd_cents of many amounts at once, equal to it amount by amount: the same two IEEE products
    in the same order, and rint rounds half to even as round() does."""
    rate = np.fromiter((rates.get(c, 1.0) for c in currencies), dtype=np.float64, count=len(currencies))
    cents = np.rint(np.asarray(amounts, dtype=np.float64) * rate * 100)
    return np.maximum(cents, 1).astype(np.int64)


@dataclass
class IdMap:
    """Dense integer ids for strings, in the order they are first seen (0, 1, 2, ...)."""

    ids: dict[str, int] = field(default_factory=dict)

    def __call__(self, key: str) -> int:
        got = self.ids.get(key)
        if got is None:
            got = self.ids[key] = len(self.ids)
        return got

    def ids_of(self, keys: Sequence[str]) -> list[int]:
        """The ids of `keys`, new ones numbered in order, as calling it key by key would."""
        ids = self.ids
        # one C-level pass: setdefault numbers a new key len(ids) as it is inserted, in order
        return [ids.setdefault(k, len(ids)) for k in keys]


@dataclass(frozen=True)
class Joined:
    """Transactions in event-time order as the features take them, their targets and the label counts."""

    txn_ids: tuple[str, ...]
    events: Events
    record_ms: I64
    fraud: npt.NDArray[np.bool_]  # the standing verdict (any source says fraud); unlabelled = legitimate
    labelled: npt.NDArray[np.bool_]  # some standing verdict names the transaction
    feature_labels: Labels  # fraud labels with their own event time, for the merchant fraud rate
    cards: IdMap
    merchants: IdMap
    counts: dict[str, int]


def join(txns: Iterable[Txn], labels: Sequence[Label], *, labels_as_of_ms: int | None = None) -> Joined:
    """Order transactions by event time, map ids densely in that order and join labels on txn_id.

    A transaction read twice (an at-least-once resend) counts once. Targets are the verdicts standing
    per (transaction, source) by `labels_as_of_ms` (all read when None): fraud when any source says
    fraud. The merchant features get every fraud label with its own `label_ms`, so a transaction's
    features see a label only once it was known (FeatureState adds the label-delay rule).
    """
    seen: set[str] = set()
    unique: list[Txn] = []
    duplicates = 0
    for t in txns:
        if t.txn_id in seen:
            duplicates += 1
            continue
        seen.add(t.txn_id)
        unique.append(t)
    # sorted() is stable: equal event times keep the order read (per card: the partition's order)
    rows = sorted(unique, key=lambda t: t.ts_ms)
    cards, merchants = IdMap(), IdMap()
    card = np.fromiter((cards(t.card_id) for t in rows), dtype=np.int64, count=len(rows))
    term = np.fromiter((merchants(t.merchant_id) for t in rows), dtype=np.int64, count=len(rows))
    ts = np.fromiter((t.ts_ms // 1000 for t in rows), dtype=np.int64, count=len(rows))
    cents = np.fromiter((t.amount_cents for t in rows), dtype=np.int64, count=len(rows))
    record = np.fromiter((t.record_ms for t in rows), dtype=np.int64, count=len(rows))
    index = {t.txn_id: i for i, t in enumerate(rows)}

    counts: Counter[str] = Counter()
    fraud = np.zeros(len(rows), dtype=bool)
    labelled = np.zeros(len(rows), dtype=bool)
    for (txn_id, source), label in current_labels(labels, known_at_ms=labels_as_of_ms).items():
        i = index.get(txn_id)
        if i is None:
            counts["standing_unmatched"] += 1  # its transaction is outside what was read
            continue
        counts[f"standing_{source}_{label.label}"] += 1
        labelled[i] = True
        fraud[i] |= label.label == FRAUD

    lab_rows, lab_known = [], []
    for label in labels:
        i = index.get(label.txn_id)
        if label.label == FRAUD and i is not None:
            lab_rows.append(i)
            lab_known.append(label.label_ms // 1000)
    at = np.asarray(lab_rows, dtype=np.int64)
    feature_labels = Labels(
        tx_id=at, terminal=term[at], txn_ts=ts[at], known_at=np.asarray(lab_known, dtype=np.int64)
    )
    counts["transactions"] = len(rows)
    counts["duplicates_dropped"] = duplicates
    return Joined(
        txn_ids=tuple(t.txn_id for t in rows),
        events=Events(ts=ts, card=card, terminal=term, amount_cents=cents),
        record_ms=record,
        fraud=fraud,
        labelled=labelled,
        feature_labels=feature_labels,
        cards=cards,
        merchants=merchants,
        counts=dict(counts),
    )
