"""Online scoring: batch by batch, the features and scores training gives; labels placed from their
own time, early ones too; the bound refuses instead of scoring on wrong features."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bench.handbook.simulator import SimParams, simulate
from common.labels import make_label
from model.features import DAY_S, Events, FeatureConfig, Labels, compute_features
from model.serving import HistoryFull, OnlineScorer
from model.serving_rows import Row
from model.train import fit_lightgbm

NAMES = FeatureConfig().names()


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    tx = simulate(SimParams(n_customers=200, n_terminals=300, n_days=50, seed=5))
    rows = [
        Row(f"t{i}", int(tx.ts[i]), f"card-{tx.card[i]}", f"m-{tx.terminal[i]}", int(tx.amount_cents[i]))
        for i in range(len(tx))
    ]
    # chargebacks: every fraud is labelled 7 days after it happened
    labels = [
        make_label(
            txn_id=f"t{i}",
            card_id=f"card-{tx.card[i]}",
            label="fraud",
            source="chargeback",
            label_ms=(int(tx.ts[i]) + 7 * DAY_S) * 1000,
        )
        for i in np.flatnonzero(tx.fraud)
    ]
    f = tx.fraud
    offline = compute_features(
        Events(tx.ts, tx.card, tx.terminal, tx.amount_cents),
        Labels(tx.tx_id[f], tx.terminal[f], tx.ts[f], tx.ts[f] + 7 * DAY_S),
    )
    model = SimpleNamespace(booster=fit_lightgbm(offline, tx.fraud))
    return tx, rows, labels, offline, model


def test_batch_by_batch_serving_gives_the_training_features_and_scores(world) -> None:  # type: ignore[no-untyped-def]
    tx, rows, labels, offline, model = world
    scorer = OnlineScorer(FeatureConfig(), max_events=10_000_000)
    pending = sorted(labels, key=lambda lab: lab.label_ms)
    xs, scores = [], []
    for lo in range(0, len(rows), 700):
        batch = rows[lo : lo + 700]
        known = [lab for lab in pending if lab.label_ms // 1000 <= batch[-1].ts_s]
        pending = pending[len(known) :]
        scorer.add_labels(known)  # what the label feed has delivered by then
        got = scorer.score(batch, model, "v1")
        xs.append(got._x)  # the FeatureState training uses: nothing else computes features
        scores.append(got.scores)
    assert np.concatenate(xs).tobytes() == offline.tobytes()
    np.testing.assert_array_equal(np.concatenate(scores), model.booster.predict(offline))
    delivered = len(labels) - len(pending)  # the last week's chargebacks are still to come
    assert 0 < delivered < len(labels) == int(tx.fraud.sum())
    assert scorer.labels_used == delivered and scorer.labels_unplaced == 0
    assert scorer.remembered < 3 * len(rows)  # what no later transaction can reach is forgotten


def test_reasons_name_the_features_that_raised_a_score(world) -> None:  # type: ignore[no-untyped-def]
    _, rows, _, _, model = world
    scorer = OnlineScorer(FeatureConfig(), max_events=10_000_000)
    got = scorer.score(rows[:2_000], model, "v1")
    top = int(np.argmax(got.scores))
    assert got.scores[top] > 0.5 and got.version == "v1"
    text = got.reasons(top)
    assert text and all(part.strip() for part in text.split(";"))
    assert got.reasons(top) is text  # worked out once


def test_a_label_that_arrives_before_its_transaction_counts_once_it_arrives() -> None:
    scorer = OnlineScorer(FeatureConfig(label_delay_days=0), max_events=1_000)
    t0 = 1_700_000_000
    early = make_label(txn_id="a", card_id="c1", label="fraud", source="analyst", label_ms=t0 * 1000)
    scorer.add_labels([early])
    assert scorer.labels_used == 0
    x = scorer.features([Row("a", t0, "c1", "m1", 1_000)])[0]
    assert x[0, NAMES.index("terminal_fraud_rate_1d")] == 0.0  # not known to the batch it came in
    later = scorer.features([Row("b", t0 + 60, "c2", "m1", 1_000)])[0]
    assert scorer.labels_used == 1
    assert later[0, NAMES.index("terminal_fraud_rate_1d")] == 0.5  # a (fraud) and b at the merchant


def test_the_bound_refuses_a_batch_instead_of_scoring_on_partial_history() -> None:
    scorer = OnlineScorer(FeatureConfig(), max_events=30)
    t0 = 1_700_000_000
    scorer.features([Row(f"x{i}", t0 + i, "c", "m", 100) for i in range(9)])
    with pytest.raises(HistoryFull, match="at its bound"):
        scorer.features([Row("y", t0 + 100, "c", "m", 100), Row("z", t0 + 101, "c", "m", 100)])
    assert scorer.seen == 9


def test_a_transaction_seen_twice_counts_once_as_in_training() -> None:
    scorer = OnlineScorer(FeatureConfig(), max_events=1_000)
    t0, count = 1_700_000_000, NAMES.index("card_count_1d")
    first = scorer.features([Row("a", t0, "c1", "m1", 1_000), Row("a", t0, "c1", "m1", 1_000)])[0]
    again = scorer.features([Row("a", t0, "c1", "m1", 1_000), Row("b", t0 + 5, "c1", "m1", 2_000)])[0]
    assert first[:, count].tolist() == [1.0, 1.0]  # a resend inside one batch: not counted again
    # a resend in a later batch (or read by the warm-up too, or a replayed batch) is scored as it
    # was first seen, and not added again: b sees a once
    assert again[0].tobytes() == first[0].tobytes()
    assert again[1, count] == 2.0 and scorer.seen == 2


def test_reasons_that_fail_leave_the_score_and_the_alert_alone(caplog: pytest.LogCaptureFixture) -> None:
    from bridge.model_rows import ScoredRows
    from common.schema import decode_event
    from tests.streams import generated

    class Broken:
        scores = np.array([0.97])

        def reasons(self, row: int) -> str:
            raise RuntimeError("contributions failed")

    event = decode_event(generated(1)[0][0])
    scores = ScoredRows({id(event): 0}, Broken())
    assert scores.score(event) == pytest.approx(0.97)
    assert scores.reasons(event) == ""  # the rule still fires on the score; the text just lacks reasons
    assert "no reasons for a model score" in caplog.text


def test_an_impossible_event_time_is_refused_not_let_forget_the_history() -> None:
    t0 = 1_700_000_000
    scorer = OnlineScorer(FeatureConfig(), max_events=1_000, clock=lambda: t0 + 60.0)
    count = NAMES.index("card_count_30d")
    scorer.features([Row("a", t0, "c1", "m1", 1_000)])
    x, ok = scorer.features(
        [Row("future", t0 + 200 * 365 * 86_400, "c1", "m1", 1_000), Row("b", t0 + 5, "c1", "m1", 500)]
    )
    assert ok.tolist() == [False, True] and x[0].tolist() == [0.0] * len(NAMES)
    assert x[1, count] == 2.0  # a and b: the year-2223 event moved no watermark, a is remembered
    assert scorer.bad_times == 1 and scorer.seen == 2
    scorer.add_labels(
        [make_label(txn_id="a", card_id="c1", label="fraud", source="analyst", label_ms=-5_000)]
    )
    assert scorer.bad_times == 2 and scorer.labels_used == 0


def test_a_steady_stream_near_the_bound_keeps_scoring_and_a_full_one_recovers() -> None:
    """200 days of 1,000 transactions a day: 37 days live is 37,000 transactions, 111,000 entries."""
    t0, day = 1_600_000_000, 86_400
    scorer = OnlineScorer(FeatureConfig(), max_events=140_000, clock=lambda: 2e9)
    full = 0
    for d in range(200):
        rows = [
            Row(f"d{d}-{i}", t0 + d * day + i * 80, f"c{i % 300}", f"m{i % 50}", 1_000) for i in range(1_000)
        ]
        try:
            scorer.features(rows)
        except HistoryFull:
            full += 1
    assert full == 0 and scorer.seen == 200_000
    assert scorer.remembered <= 140_000
    # a burst the bound cannot hold: refused; the days after it, history expires and scoring resumes
    small = OnlineScorer(FeatureConfig(), max_events=40_000, clock=lambda: 2e9)
    refused = 0
    for d in range(60):
        n = 20_000 if d == 5 else 300
        rows = [Row(f"d{d}-{i}", t0 + d * day + i, f"c{i % 300}", "m", 1_000) for i in range(n)]
        try:
            small.features(rows)
        except HistoryFull:
            refused += 1
    assert refused == 1 and small.seen == 59 * 300


def test_a_champion_removed_drops_the_history_so_the_next_one_starts_afresh(world) -> None:  # type: ignore[no-untyped-def]
    from bridge.model_serving import ModelServing
    from common.rules import default_rules
    from common.schema import decode_event
    from model.drift import reference
    from tests.streams import generated

    _, _, _, offline, model = world
    card = {"drift_reference": reference(offline, model.booster.predict(offline), NAMES)}
    watcher = SimpleNamespace(model=model, entry=SimpleNamespace(version="v1", card=card))
    serving = ModelServing(watcher, default_rules().currency, 1_000_000)  # type: ignore[arg-type]
    events = [decode_event(v) for v, _, _ in generated(1_200, seed=3)]
    got = serving.score_batch(events)
    assert got is not None and serving.scoring and serving.history_entries > 0
    assert "scored 1,200 events" in serving.status()
    psi = serving.drift_psi()  # the live stream against the training bins, for Prometheus
    assert psi is not None and set(psi) == {*NAMES, "score"} and all(v >= 0 for v in psi.values())
    top = max((v, n) for n, v in psi.items() if n != "score")  # and for the pipeline-health panel:
    assert f"live drift: score PSI {psi['score']:.2f} (" in serving.status()
    assert f"most shifted {top[1]} {top[0]:.2f}" in serving.status()
    watcher.model = None  # rolled back to no champion: the native engine decides, unseen by the history
    serving.tick()
    assert serving.history_entries == 0 and serving.status() == "" and not serving.scoring
    watcher.model = model
    assert serving.score_batch(events[:10]) is not None and "scored 10 events" in serving.status()


def test_rows_from_columns_equal_rows_made_one_by_one() -> None:
    """The native path's rows (columns, cents vectorised) are exactly Row.of's, ties and tiny
    amounts included: a cent apart would be another feature value than training's."""
    from common.rules import default_rules
    from common.schema import decode_event
    from model.join import usd_cents, usd_cents_many
    from tests.streams import generated

    rates = default_rules().currency
    events = [decode_event(v) for v, _, _ in generated(3_000, seed=4)]
    columns = (
        [e.txn_id for e in events],
        [int(e.ts.timestamp() * 1000) for e in events],
        [e.card_id for e in events],
        [e.merchant_id for e in events],
        [e.amount for e in events],
        [e.currency for e in events],
    )
    assert Row.of_columns(columns, rates) == [Row.of(e, rates) for e in events]
    rng = np.random.default_rng(2)
    amounts = [0.005, 0.015, 0.025, 1.005, 2.675, 0.0001, 1e9, *np.round(rng.uniform(0, 5_000, 5_000), 3)]
    currencies = [["USD", "EUR", "JPY", "XXX"][i % 4] for i in range(len(amounts))]
    many = usd_cents_many(amounts, currencies, rates).tolist()
    assert many == [usd_cents(a, c, rates) for a, c in zip(amounts, currencies, strict=True)]


def test_id_maps_past_their_bound_rebuild_the_history_and_the_panel_says_so(world) -> None:  # type: ignore[no-untyped-def]
    from bridge.model_serving import ModelServing
    from common.rules import default_rules
    from common.schema import decode_event
    from tests.streams import generated

    model = world[4]
    watcher = SimpleNamespace(model=model, entry=SimpleNamespace(version="v1", card={}))
    events = [decode_event(v) for v, _, _ in generated(600, seed=5)]
    cards, merchants = {e.card_id for e in events[:300]}, {e.merchant_id for e in events[:300]}
    bound = len(cards) + len(merchants)  # exactly what the first 300 events number
    serving = ModelServing(watcher, default_rules().currency, 1_000_000, max_ids=bound)  # type: ignore[arg-type]
    assert serving.score_batch(events[:300]) is not None
    serving.tick()
    assert serving.history.renewals == 0 and serving.history_entries > 0  # at the bound, not past it
    assert serving.score_batch(events[300:]) is not None  # new cards: past the bound
    held = serving.history_entries
    serving.tick()
    assert serving.history.renewals == 1 and serving.history_entries == 0 < held  # dropped, to be rebuilt
    assert serving.score_batch(events[:10]) is not None  # no warm-up configured: rebuilt from live events
    assert "scored 10 events" in serving.status()
    assert f"history rebuilt 1\u00d7 to bound its id maps ({bound:,} ids)" in serving.status()


def test_a_partition_gained_past_the_history_rebuilds_it_and_the_panel_says_so(world) -> None:  # type: ignore[no-untyped-def]
    """A warm-up read each partition to an offset; a partition gained beyond it (another bridge
    applied the events between) drops the history, which is warmed up again; one gained within it
    keeps the history and the scores."""
    import threading
    import time

    from bridge.model_serving import ModelServing
    from common.rules import default_rules
    from common.schema import decode_event, event_epoch_ms
    from model.join import Txn, usd_cents
    from model.topics import History
    from tests.streams import generated

    model = world[4]
    rates = default_rules().currency
    watcher = SimpleNamespace(model=model, entry=SimpleNamespace(version="v1", card={}))
    events = [decode_event(v) for v, _, _ in generated(900, seed=6)]
    txns = [
        Txn(e.txn_id, event_epoch_ms(e), e.card_id, e.merchant_id, usd_cents(e.amount, e.currency, rates), 0)
        for e in events[:300]
    ]
    reads: list[int] = []
    release = threading.Event()

    def history(reach_ms: int) -> History:
        reads.append(reach_ms)
        release.wait(30)
        return History(txns, {0: 100, 1: 100})

    def warmed() -> None:
        assert serving.history.warmup is not None
        release.set()
        while not serving.history.warmup.done:
            time.sleep(0.01)
        serving.tick()  # the housekeeping reads the warm-up's reach and checks the gains

    serving = ModelServing(watcher, rates, 1_000_000, history=history)  # type: ignore[arg-type]
    serving.tick()
    serving.partitions_gained({0: 90, 1: None})  # within what the read will reach: waits for it
    assert serving.score_batch(events[300:400]) is None  # held while the history is read
    warmed()
    assert serving.history.rewarms == 0 and serving.score_batch(events[400:500]) is not None
    assert serving.history.scorer.seen == 500  # the read, the held batch and this one
    serving.partitions_left({0: 150, 1: 120})
    serving.partitions_gained({0: 150, 1: 180})  # partition 1: 120..179 applied by another bridge
    assert serving.history.rewarms == 1 and serving.history_entries == 0 and not serving.scoring
    assert serving.score_batch(events[500:600]) is None  # not scored on a history with a hole
    release.clear()
    serving.tick()  # the next housekeeping warms up again
    assert len(reads) == 2 and "warming up the feature history" in serving.status()
    warmed()
    assert serving.score_batch(events[600:700]) is not None and serving.history.rewarms == 1
    assert "history rebuilt 1\u00d7 for partitions gained past what it held" in serving.status()
