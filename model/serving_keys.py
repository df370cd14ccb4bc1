"""The ids and placements online scoring keeps: string ids numbered, and where each transaction was.

A feature never reads an id's value, only which rows share it, so cards and merchants become dense
integers in the order first seen. Fraud labels name a transaction id, so the merchant and event
time of every transaction the merchant windows can still reach are kept to place a label that
arrives days later. One seam, two implementations: `Keys` (this module, the reference) and
`NativeKeys` over fraud_native.ServingIds, which the native engine's parsed batch is numbered in
directly (bridge/native.py); tests/test_serving_keys.py runs both side by side.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from model.join import IdMap
from model.native_features import int64_bytes

logger = logging.getLogger(__name__)
I64 = npt.NDArray[np.int64]

FRESH, OLDER, COPY, BAD_TIME = 0, 1, 2, 3  # a row's kind (native/src/serving_ids.rs, the same)


class Kinds(NamedTuple):
    """How each row of a batch joins the history; `first[i]` is the row a COPY copies (else -1)."""

    kind: npt.NDArray[np.int8]
    first: I64


class ServingKeys(Protocol):
    """What OnlineScorer needs of its ids and placements (both implementations below)."""

    def number(self, cards: Sequence[str], merchants: Sequence[str]) -> tuple[I64, I64]: ...
    def classify(self, txn_ids: Sequence[str]) -> Kinds: ...
    def place(self, txn_ids: Sequence[str], merchants: I64, secs: I64) -> None: ...
    def forget(self, cut: int) -> None: ...
    def placed_at(self, txn_id: str) -> tuple[int, int] | None: ...
    def label_id(self, txn_id: str) -> int: ...
    @property
    def held(self) -> int: ...
    @property
    def placed_count(self) -> int: ...


class Keys:
    """The reference: Python dicts."""

    native = None  # no engine numbers a batch in these

    def __init__(self) -> None:
        self._cards, self._merchants, self._labelled = IdMap(), IdMap(), IdMap()
        self._placed: dict[str, tuple[int, int]] = {}  # txn id -> (merchant id, event time s)
        self._order: deque[tuple[int, str]] = deque()  # (event time s, txn id) to forget placements

    def number(self, cards: Sequence[str], merchants: Sequence[str]) -> tuple[I64, I64]:
        """The ids of cards and of merchants, new ones numbered in order."""
        return (
            np.array(self._cards.ids_of(cards), dtype=np.int64),
            np.array(self._merchants.ids_of(merchants), dtype=np.int64),
        )

    def classify(self, txn_ids: Sequence[str]) -> Kinds:
        """FRESH, OLDER (placed by an earlier batch) or COPY (of an earlier row of this batch)."""
        n = len(txn_ids)
        kind, first = np.full(n, FRESH, dtype=np.int8), np.full(n, -1, dtype=np.int64)
        # dict keys' isdisjoint walks the batch's ids (a set's would walk the whole history)
        if len(set(txn_ids)) == n and self._placed.keys().isdisjoint(txn_ids):
            return Kinds(kind, first)
        first_at: dict[str, int] = {}
        for i, t in enumerate(txn_ids):
            if t in self._placed:
                kind[i] = OLDER
            elif t in first_at:
                kind[i], first[i] = COPY, first_at[t]
            else:
                first_at[t] = i
        return Kinds(kind, first)

    def place(self, txn_ids: Sequence[str], merchants: I64, secs: I64) -> None:
        terms, times = merchants.tolist(), secs.tolist()
        self._placed.update(zip(txn_ids, zip(terms, times, strict=True), strict=True))
        self._order.extend(zip(times, txn_ids, strict=True))

    def forget(self, cut: int) -> None:
        """Placements at or before `cut` (event time s): a label on them can no longer count."""
        order = self._order
        while order and order[0][0] <= cut:
            _, txn_id = order.popleft()
            placed = self._placed.get(txn_id)
            if placed is not None and placed[1] <= cut:
                del self._placed[txn_id]

    def placed_at(self, txn_id: str) -> tuple[int, int] | None:
        return self._placed.get(txn_id)

    def label_id(self, txn_id: str) -> int:
        return self._labelled(txn_id)

    @property
    def held(self) -> int:
        """Ids numbered so far (kept for the keys' life: an id that left every window stays)."""
        return len(self._cards.ids) + len(self._merchants.ids) + len(self._labelled.ids)

    @property
    def placed_count(self) -> int:
        return len(self._placed)


def _ints(raw: bytes) -> I64:
    return np.frombuffer(raw, dtype=np.int64)


class NativeKeys:
    """The same over fraud_native.ServingIds (`native`, which Engine.model_columns numbers into)."""

    def __init__(self, ids: Any) -> None:
        self.native = ids

    def number(self, cards: Sequence[str], merchants: Sequence[str]) -> tuple[I64, I64]:
        c, m = self.native.number(list(cards), list(merchants))
        return _ints(c), _ints(m)

    def classify(self, txn_ids: Sequence[str]) -> Kinds:
        kind, first = self.native.classify(list(txn_ids))
        return Kinds(np.frombuffer(kind, dtype=np.int8), _ints(first))

    def place(self, txn_ids: Sequence[str], merchants: I64, secs: I64) -> None:
        self.native.place(list(txn_ids), int64_bytes(merchants), int64_bytes(secs))

    def forget(self, cut: int) -> None:
        self.native.forget(cut)

    def placed_at(self, txn_id: str) -> tuple[int, int] | None:
        got = self.native.placed_at(txn_id)
        return None if got is None else (int(got[0]), int(got[1]))

    def label_id(self, txn_id: str) -> int:
        return int(self.native.label_id(txn_id))

    @property
    def held(self) -> int:
        return int(self.native.held)

    @property
    def placed_count(self) -> int:
        return int(self.native.placed_count)


def serving_keys(native: bool = True) -> Keys | NativeKeys:
    """The native keys when built (and asked for), else the reference."""
    if native:
        try:
            from fraud_native import ServingIds
        except ImportError:  # a checkout without the extension built: the reference does the same
            logger.warning("model: native serving ids not built; Python dicts number the ids")
        else:
            return NativeKeys(ServingIds())
    return Keys()
