"""Where one bridge instance stands in each partition: the one object that claims, confirms and rolls back."""

from __future__ import annotations

from collections.abc import Mapping

from bridge.batch_types import Unconfirmed


class Ledger:
    """The exactly-once bookkeeping of one bridge instance, per partition it owns.

    A batch's offsets move through these states:

        polled --claim--> in flight --sent--> unconfirmed --confirmed--> applied
                             |                    |
                             |                    +--roll_back--> in flight (its offsets again)
                             +--rewind_targets--> the consumer seeks back to them

    - `pos`: the next offset to apply per owned partition (None: the log start). It moves when a
      batch's transaction is *sent*, before Redis answers, so the next batch is prepared meanwhile;
      Redis's own offsets hash (checked by the sink's WATCH) stays the truth.
    - `inflight`: the first offset, per partition, of the batch being applied and of records polled
      but not applied (hold). Any error rewinds the consumer to them (rewind_targets), so nothing
      polled is skipped.
    - the unconfirmed batch: sent to Redis, answer not read yet (take_unconfirmed). If Redis
      refused it, roll_back puts its first offsets back as the position and in flight and takes its
      records off `processed`; the caller drops those partitions' cached card states.
    - `processed`: records applied (valid + dead-lettered), counting an unconfirmed batch.

    One thread at a time: the batch thread claims and sends; the main loop touches the ledger only
    after the batch in flight has landed (bridge/service.py), so there is no lock.
    """

    def __init__(self) -> None:
        self.pos: dict[int, int | None] = {}
        self.inflight: dict[int, int] = {}
        self.processed = 0
        self._unconfirmed: Unconfirmed | None = None

    def claim(self, first: dict[int, int]) -> None:
        """A batch starts: `first` is each partition's first offset in it."""
        self.inflight = first

    def hold(self, first: Mapping[int, int]) -> None:
        """Records polled but not applied: an error now rewinds to them too."""
        for p, offset in first.items():
            self.inflight.setdefault(p, offset)

    def sent(self, first: dict[int, int], nxt: Mapping[int, int], records: int) -> None:
        """The batch's transaction went to Redis: positions move to `nxt`, its answer is awaited."""
        self._unconfirmed = Unconfirmed(first, records)
        self.inflight = {}
        self.pos.update(nxt)
        self.processed += records

    def take_unconfirmed(self) -> Unconfirmed | None:
        """The batch whose answer is to be read now (then no longer awaited), or None."""
        sent, self._unconfirmed = self._unconfirmed, None
        return sent

    def roll_back(self, sent: Unconfirmed) -> None:
        """Redis refused `sent`: its offsets are to be applied again (and rewound to)."""
        for p, offset in sent.first.items():
            if p in self.pos:  # a partition revoked meanwhile is the new owner's
                self.pos[p] = offset
        self.processed -= sent.records
        self.inflight = {**self.inflight, **sent.first}

    def rewind_targets(self, stored: Mapping[int, int | None] | None = None) -> dict[int, int | None]:
        """Where the consumer must seek after an error (plus Redis's `stored` offsets after a fence)."""
        targets: dict[int, int | None] = dict(self.inflight)
        targets.update(stored or {})
        self.inflight = {}
        return targets

    def assign(self, positions: Mapping[int, int | None]) -> None:
        """Partitions assigned and seeked to these (Redis-stored) positions."""
        self.pos.update(positions)

    def revoke(self, partition: int) -> None:
        self.pos.pop(partition, None)

    def reset(self) -> None:
        """A new consumer: no partition is owned until the next assignment."""
        self.pos.clear()
        self.inflight = {}
