"""Which offsets of each partition a serving bridge's feature history holds, and whether a partition
it gains leaves a hole in it.

Why: a bridge's history is what its warm-up read of the whole topic, then the live events of the
partitions it consumes. A partition it gains in a rebalance resumes where the previous owner
stopped; the events between what this history holds of it and that offset were never seen here,
so that partition's cards would be scored on windows with a hole in them. Rather than guess, the
history is rebuilt from the topic (bridge/model_serving.py) whenever a gain leaves such a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Gap:
    """Partition `partition` resumes at `resumes`, but the history holds it only before `held`."""

    partition: int
    held: int
    resumes: int

    def __str__(self) -> str:
        return f"partition {self.partition} resumes at {self.resumes:,}, history holds it to {self.held:,}"


class Coverage:
    """Per partition, the offset before which the history holds every transaction (of its window);
    partitions gained since are undecided until the warm-up's reach is known."""

    def __init__(self) -> None:
        self._held: dict[int, int] = {}
        self._gained: dict[int, int] = {}  # partition -> the offset it resumes at, not yet checked
        self._read = False  # the warm-up's reach is in `_held`

    @property
    def undecided(self) -> bool:
        """A partition was gained and not yet checked against the warm-up's reach."""
        return bool(self._gained)

    def read(self, reached: Mapping[int, int]) -> None:
        """The warm-up read every record of each partition before `reached[p]`."""
        for p, offset in reached.items():
            self._held[p] = max(self._held.get(p, 0), offset)
        self._read = True

    def left(self, positions: Mapping[int, int | None]) -> None:
        """Partitions revoked: their events were added to the history up to these positions
        (the next offset the bridge would have applied; None: nothing applied)."""
        for p, offset in positions.items():
            if offset is not None:
                self._held[p] = max(self._held.get(p, 0), offset)

    def gained(self, positions: Mapping[int, int | None]) -> None:
        """Partitions assigned, resuming at these offsets (None: the log start, which leaves no gap)."""
        for p, offset in positions.items():
            if offset is not None:
                self._gained[p] = max(self._gained.get(p, 0), offset)

    def gaps(self) -> list[Gap]:
        """The gained partitions that leave a hole; the checked ones are no longer undecided. Before
        the warm-up's reach is known nothing is checked (the gains wait for it)."""
        if not self._read:
            return []
        found = [
            Gap(p, self._held.get(p, 0), offset)
            for p, offset in sorted(self._gained.items())
            if offset > self._held.get(p, 0)
        ]
        self._gained.clear()
        return found

    def clear(self) -> None:
        """A new history: it holds nothing until its warm-up is read."""
        self._held.clear()
        self._gained.clear()
        self._read = False
