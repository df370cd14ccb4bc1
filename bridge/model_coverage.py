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


@dataclass
class Stint:
    """One ownership of a partition since its last check: resumed at an offset, left at another."""

    resumed: int
    left: int | None = None  # None: still owned


class Coverage:
    """Per partition, the offset before which the history holds every transaction (of its window),
    and the stints a partition was owned since its last check: gained at one offset, left at another.
    Stints are checked once the warm-up's reach is known, in the order they happened."""

    def __init__(self) -> None:
        self._held: dict[int, int] = {}
        self._stints: dict[int, list[Stint]] = {}
        self._read = False  # the warm-up's reach is in `_held`

    @property
    def undecided(self) -> bool:
        """A partition was gained and not yet checked against the warm-up's reach."""
        return bool(self._stints)

    def read(self, reached: Mapping[int, int]) -> None:
        """The warm-up read every record of each partition before `reached[p]`."""
        for p, offset in reached.items():
            self._held[p] = max(self._held.get(p, 0), offset)
        self._read = True

    def held_of(self, partition: int) -> int:
        """The offset before which the history holds every record of the partition (as last checked)."""
        return self._held.get(partition, 0)

    def hold(self, partition: int, offset: int) -> None:
        """The history now holds every record of the partition before `offset` (the merchant tail)."""
        self._held[partition] = max(self._held.get(partition, 0), offset)

    def left(self, positions: Mapping[int, int | None]) -> None:
        """Partitions revoked: their events were added to the history up to these positions
        (the next offset the bridge would have applied; None: nothing applied). A stint not yet
        checked is closed there, to be checked in turn: it never vouches for what came before it."""
        for p, offset in positions.items():
            stints = self._stints.get(p)
            if stints and stints[-1].left is None:
                stints[-1].left = offset if offset is not None else stints[-1].resumed
            elif offset is not None:
                self._held[p] = max(self._held.get(p, 0), offset)

    def gained(self, positions: Mapping[int, int | None]) -> None:
        """Partitions assigned, resuming at these offsets (None: the log start, which leaves no gap)."""
        for p, offset in positions.items():
            self._stints.setdefault(p, []).append(Stint(offset or 0))

    def gaps(self) -> list[Gap]:
        """The gained partitions that leave a hole (the first per partition); the checked ones are
        no longer undecided. Before the warm-up's reach is known nothing is checked (gains wait)."""
        if not self._read:
            return []
        found = []
        for p, stints in sorted(self._stints.items()):
            mark = self._held.get(p, 0)
            for stint in stints:
                if stint.resumed > mark:
                    found.append(Gap(p, mark, stint.resumed))
                    break
                mark = max(mark, stint.resumed if stint.left is None else stint.left)
            self._held[p] = mark
        self._stints.clear()
        return found

    def clear(self) -> None:
        """A new history: it holds nothing until its warm-up is read."""
        self._held.clear()
        self._stints.clear()
        self._read = False
