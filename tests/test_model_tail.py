"""The merchant tail (bridge/model_tail.py) without I/O: a bridge that owns half the cards, and
remembers the other half as its tail reads them, scores its own as training does; and the tail's
bookkeeping of which offsets the history holds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.handbook.simulator import SimParams, simulate
from bridge.model_coverage import Coverage
from bridge.model_tail import MerchantTail, new_rows
from bridge.model_tail_reader import Chunk
from common.labels import make_label
from model.features import DAY_S, Events, FeatureConfig, Labels, compute_features
from model.serving import OnlineScorer
from model.serving_rows import Row

TERMINAL_COLUMNS = [i for i, name in enumerate(FeatureConfig().names()) if name.startswith("terminal_")]


def served_half(native: bool, tail: bool) -> tuple[Any, Any, OnlineScorer]:
    """Training's features of the whole stream, and those a bridge owning the even cards served
    batch by batch, with the odd cards' rows remembered one batch late (as a tail lags) or never."""
    tx = simulate(SimParams(n_customers=200, n_terminals=300, n_days=50, seed=7))
    rows = [
        Row(f"t{i}", int(tx.ts[i]), f"card-{tx.card[i]}", f"m-{tx.terminal[i]}", int(tx.amount_cents[i]))
        for i in range(len(tx))
    ]
    own = tx.card % 2 == 0
    labels = sorted(
        (
            make_label(
                txn_id=f"t{i}",
                card_id=f"card-{tx.card[i]}",
                label="fraud",
                source="chargeback",
                label_ms=(int(tx.ts[i]) + 7 * DAY_S) * 1000,
            )
            for i in np.flatnonzero(tx.fraud)
        ),
        key=lambda lab: lab.label_ms,
    )
    f = tx.fraud
    offline = compute_features(
        Events(tx.ts, tx.card, tx.terminal, tx.amount_cents),
        Labels(tx.tx_id[f], tx.terminal[f], tx.ts[f], tx.ts[f] + 7 * DAY_S),
    )
    scorer = OnlineScorer(FeatureConfig(), max_events=10_000_000, native=native)
    xs: list[Any] = []
    lagging: list[Row] = []
    for lo in range(0, len(rows), 500):
        at = range(lo, min(lo + 500, len(rows)))
        known = [lab for lab in labels if lab.label_ms // 1000 <= rows[at[-1]].ts_s]
        labels = labels[len(known) :]
        scorer.add_labels(known)
        if tail:
            scorer.remember(lagging)  # the other partitions' rows of the batch before
        lagging = [rows[i] for i in at if not own[i]]
        xs.append(scorer.features([rows[i] for i in at if own[i]])[0])
    return offline[own], np.concatenate(xs), scorer


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_a_bridge_owning_half_the_cards_scores_them_as_training_does_with_its_tail(native: bool) -> None:
    want, got, scorer = served_half(native, tail=True)
    assert got.tobytes() == want.tobytes()
    assert scorer.tailed > 0 and scorer.labels_unplaced == 0
    assert scorer.labels_used > 0  # labels on the other half's transactions were placed by the tail
    assert want[:, TERMINAL_COLUMNS].any()  # merchant columns were exercised, not all zero


def test_without_the_tail_its_merchant_columns_count_only_its_own_partitions() -> None:
    want, got, scorer = served_half(native=True, tail=False)
    other = [i for i in range(want.shape[1]) if i not in TERMINAL_COLUMNS]
    assert got[:, other].tobytes() == want[:, other].tobytes()  # cards are wholly in one partition
    assert (got[:, TERMINAL_COLUMNS] < want[:, TERMINAL_COLUMNS]).any() and scorer.tailed == 0


def row(offset: int) -> tuple[int, Row]:
    return offset, Row(f"x{offset}", 1_700_000_000 + offset, "c", "m", 100)


def test_a_chunk_adds_only_the_offsets_past_what_the_history_holds() -> None:
    chunk = Chunk(1, 5, 15, [row(o) for o in range(5, 15)])
    taken = new_rows(chunk, held=10)
    assert taken is not None
    assert [r.txn_id for r in taken[0]] == [f"x{o}" for o in range(10, 15)] and taken[1] == 15
    assert new_rows(chunk, held=20) == ([], 20)  # a stale read: nothing, and the mark stays
    assert new_rows(Chunk(1, 16, 20, [row(16)]), held=15) is None  # past the mark: a hole


class Reader:
    """The reader's side of the seam, fed by the test (the live tests read real Kafka)."""

    def __init__(self) -> None:
        self.wanted: dict[int, tuple[int, int]] = {}
        self.chunks: list[Chunk] = []
        self.error: str | None = None
        self.behind = 0
        self.behind_in: dict[int, int] = {}

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def follow(self, wanted: dict[int, tuple[int, int]]) -> None:
        self.wanted = dict(wanted)

    def drain(self) -> list[Chunk]:
        out, self.chunks = self.chunks, []
        return out


class Remembering:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.config, self.newest = FeatureConfig(), -1  # nothing added: no lag judged

    def remember(self, rows: list[Row]) -> None:
        self.rows.extend(rows)


def test_the_tail_follows_the_partitions_not_owned_from_what_the_history_holds() -> None:
    coverage, reader, scorer = Coverage(), Reader(), Remembering()
    coverage.read({0: 10, 1: 10, 2: 10})
    tail = MerchantTail(lambda: reader, coverage, [0, 1, 2])  # type: ignore[arg-type, return-value]
    tail.start(owned={0})
    assert {p: start for p, (_, start) in reader.wanted.items()} == {1: 10, 2: 10}
    reader.chunks = [
        Chunk(1, 5, 15, [row(o) for o in range(5, 15)]),
        Chunk(0, 10, 12, [row(10), row(11)]),  # owned: its own batches add it
        Chunk(2, 20, 25, [row(20)]),  # past what is held: not taken, read again from 10
    ]
    generation = reader.wanted[2][0]
    assert tail.apply(scorer) == 5 and coverage.held_of(1) == 15 and coverage.held_of(2) == 10
    assert tail.holes == 1 and reader.wanted[2][0] != generation and reader.wanted[2][1] == 10
    coverage.left({0: 30})
    tail.follow(owned=set())  # partition 0 revoked at 30: followed from there
    assert reader.wanted[0][1] == 30 and tail.followed == {0, 1, 2}
    assert tail.catch_up(scorer, {1: 15}, timeout_s=0.0)
    reader.chunks = [Chunk(1, 15, 18, [row(15), row(16), row(17)])]
    assert tail.catch_up(scorer, {1: 18}, timeout_s=1.0) and coverage.held_of(1) == 18
    assert not tail.catch_up(scorer, {1: 40}, timeout_s=0.05)  # the gap check then rebuilds
    assert [r.txn_id for r in scorer.rows] == [f"x{o}" for o in range(10, 18)]
    assert "3 partitions of other bridges followed" in tail.status()


def test_a_tail_behind_by_more_than_the_label_delay_says_so() -> None:
    coverage, reader, scorer = Coverage(), Reader(), Remembering()
    coverage.read({0: 0, 1: 0})
    tail = MerchantTail(lambda: reader, coverage, [0, 1])  # type: ignore[arg-type, return-value]
    tail.start(owned={0})
    scorer.newest = 1_700_000_000 + 8 * DAY_S
    reader.behind_in = {1: 50}
    reader.chunks = [Chunk(1, 0, 3, [row(0), row(1), row(2)])]  # 8 days older than the newest
    tail.apply(scorer)
    assert tail.late and "MORE THAN THE LABEL DELAY BEHIND" in tail.status()
    reader.behind_in = {1: 0}  # read to the end: nothing is missing
    tail.apply(scorer)
    assert not tail.late and "MORE THAN" not in tail.status()


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_rows_the_tail_read_ahead_of_the_bridge_score_as_when_first_seen(native: bool) -> None:
    """A partition gained while the tail is past its resume offset: the bridge's batch is rows the
    history holds already (several per card), scored as a history that saw them once scores them."""
    rng = np.random.default_rng(3)
    t0 = 1_700_000_000
    rows = [
        Row(
            f"r{i}",
            t0 + 60 * i,
            f"c{rng.integers(0, 5)}",
            f"m{rng.integers(0, 4)}",
            int(rng.integers(100, 9_000)),
        )
        for i in range(400)
    ]
    first = OnlineScorer(FeatureConfig(), 100_000, native=native)
    want = np.concatenate([first.features(rows[lo : lo + 100])[0] for lo in range(0, 400, 100)])
    ahead = OnlineScorer(FeatureConfig(), 100_000, native=native)
    ahead.features(rows[:100])
    ahead.remember(rows[100:])  # the tail read the rest before the bridge resumed at row 100
    got = np.concatenate([ahead.features(rows[lo : lo + 100])[0] for lo in (100, 200, 300)])
    assert got.tobytes() == want[100:].tobytes()
    assert want[100:, 4].max() > 2  # several rows of one card in a day: the counts were at stake
    assert ahead.seen == 100 and ahead.tailed == 300


class Refusing(Remembering):
    """A history that refuses its second call (HistoryFull, say)."""

    def remember(self, rows: list[Row]) -> None:
        if self.rows:
            raise RuntimeError("full")
        super().remember(rows)


def test_chunks_not_added_are_read_again_from_what_the_history_holds() -> None:
    coverage, reader = Coverage(), Reader()
    coverage.read({0: 0, 1: 0})
    tail = MerchantTail(lambda: reader, coverage, [0, 1])  # type: ignore[arg-type, return-value]
    tail.start(owned=())
    before = dict(reader.wanted)
    reader.chunks = [Chunk(0, 0, 2, [row(0), row(1)]), Chunk(1, 0, 2, [row(0), row(1)])]
    with pytest.raises(RuntimeError):
        tail.apply(Refusing())
    assert coverage.held_of(0) == 2 and coverage.held_of(1) == 0  # partition 1's rows never joined
    assert reader.wanted[1][0] != before[1][0] and reader.wanted[1][1] == 0  # read again from 0


def test_a_reader_that_stopped_is_replaced_and_reads_from_what_the_history_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bridge.model_tail

    coverage, readers = Coverage(), [Reader(), Reader()]
    coverage.read({0: 5, 1: 7})
    made = iter(readers)
    tail = MerchantTail(lambda: next(made), coverage, [0, 1])  # type: ignore[arg-type, return-value]
    tail.start(owned={0})
    readers[0].error = "KafkaConnectionError: gone"
    tail.apply(Remembering())  # the first sight of the error: a pause before the restart
    assert tail.reader is readers[0] and "merchant tail stopped" in tail.status()
    monkeypatch.setattr(bridge.model_tail, "RETRY_S", 0.0)
    tail._retry_at = 1e-9  # the pause is over
    tail.apply(Remembering())
    assert tail.reader is readers[1] and {p: s for p, (_, s) in readers[1].wanted.items()} == {1: 7}
    assert readers[0].stopped and readers[1].started
