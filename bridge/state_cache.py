"""Bounded LRU of card states this process owns, droppable per partition."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from bridge.detection import CardState


class StateCache:
    """card_id -> (partition, state); the least recently used entries go first when full."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._data: OrderedDict[str, tuple[int, CardState]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, card_id: str) -> CardState | None:
        """Return the cached state (marking it recently used) or None."""
        hit = self._data.get(card_id)
        if hit is None:
            return None
        self._data.move_to_end(card_id)
        return hit[1]

    def __contains__(self, card_id: str) -> bool:
        return card_id in self._data

    def put_many(self, items: Iterable[tuple[str, int, CardState]]) -> None:
        """Insert or refresh states committed to Redis, then evict down to the bound."""
        data = self._data
        for card_id, partition, state in items:
            data[card_id] = (partition, state)
            data.move_to_end(card_id)
        while len(data) > self._max:
            data.popitem(last=False)

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        """Forget every card last seen on one of `partitions`; return how many were dropped."""
        gone = set(partitions)
        if not gone:
            return 0
        doomed = [card for card, (p, _) in self._data.items() if p in gone]
        for card in doomed:
            del self._data[card]
        return len(doomed)

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()
