"""The native feature state against the Python reference (model/features.py), byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from bench.handbook.simulator import SimParams, simulate
from model.features import DAY_S, Events, FeatureConfig, FeatureState, Labels, compute_features
from model.native_features import NativeFeatureState, feature_state
from model.serving import OnlineScorer

T0 = 1_700_000_000
LABEL_FIELDS = ("tx_id", "terminal", "txn_ts", "known_at")
EVENT_FIELDS = ("ts", "card", "terminal", "amount_cents")


def _part(events: Events, lo: int, hi: int) -> Events:
    return Events(*(getattr(events, f)[lo:hi] for f in EVENT_FIELDS))


def _both_batch_by_batch(
    events: Events, labels: Labels, cuts: np.ndarray, remember: np.ndarray | None = None,
    config: FeatureConfig | None = None,
) -> tuple[bytes, bytes, int]:  # fmt: skip
    """Each state fed the same batches, with the labels known by each batch's newest event added
    first (as serving does); the two feature matrices' bytes and the native history size."""
    cfg = config or FeatureConfig()
    out, size = [], 0
    for state in (FeatureState(cfg), feature_state(cfg)):
        got, given = [], 0
        for k, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, len(events.ts)], strict=True)):
            known = np.flatnonzero(
                (labels.known_at <= events.ts[hi - 1]) & (np.arange(len(labels.tx_id)) >= given)
            )
            if len(known):
                state.add_labels(Labels(*(getattr(labels, f)[given : known.max() + 1] for f in LABEL_FIELDS)))
                given = int(known.max()) + 1
            got.append(
                state.transform(_part(events, lo, hi), True if remember is None else bool(remember[k]))
            )
        out.append(np.concatenate(got).tobytes())
        size = state.remembered
    return out[0], out[1], size


def test_the_default_is_native_and_the_seam_gives_the_reference() -> None:
    assert isinstance(feature_state(FeatureConfig()), NativeFeatureState)
    assert type(feature_state(FeatureConfig(), native=False)) is FeatureState
    assert isinstance(OnlineScorer(FeatureConfig(), 1_000).state, NativeFeatureState)
    assert type(OnlineScorer(FeatureConfig(), 1_000, native=False).state) is FeatureState


@pytest.fixture(scope="module")
def sim() -> tuple[Events, Labels]:
    tx = simulate(SimParams(n_customers=400, n_terminals=500, n_days=70, seed=5))
    f = tx.fraud
    labels = Labels(tx.tx_id[f], tx.terminal[f], tx.ts[f], tx.ts[f] + 7 * DAY_S)
    return Events(tx.ts, tx.card, tx.terminal, tx.amount_cents), labels


def test_the_handbook_stream_all_at_once_and_batch_by_batch(sim: tuple[Events, Labels]) -> None:
    events, labels = sim
    native = compute_features(events, labels)
    assert native.tobytes() == compute_features(events, labels, native=False).tobytes()
    assert native[:, -1].max() > 0  # merchant fraud rates from the labels: the label path is exercised
    rng = np.random.default_rng(0)
    for _ in range(3):
        cuts = np.sort(rng.choice(np.arange(1, len(events.ts)), size=60, replace=False))
        python, nat, size = _both_batch_by_batch(events, labels, cuts)
        assert python == nat == native.tobytes()
        assert 0 < size < 2 * len(events.ts)  # the card and terminal entries a later row can still see


@pytest.mark.parametrize("seed", range(12))
def test_late_events_equal_times_late_labels_and_rows_not_remembered(seed: int) -> None:
    """Event times out of order by days, repeated times, few cards and terminals (long histories),
    labels known up to 20 days late, and some batches scored without being remembered (resends)."""
    rng = np.random.default_rng(seed)
    n = 500
    ts = T0 + np.sort(rng.integers(0, 80 * DAY_S, n)) + rng.integers(-4 * DAY_S, 4 * DAY_S, n)
    ts[rng.choice(n, 25)] = ts[0]
    events = Events(ts, rng.integers(0, 7, n), rng.integers(0, 5, n), rng.integers(1, 80_000, n))
    at = rng.choice(n, 60, replace=False)
    known = events.ts[at] + rng.integers(0, 20 * DAY_S, 60)
    order = np.argsort(known, kind="stable")
    labels = Labels(
        at[order].astype(np.int64), events.terminal[at][order], events.ts[at][order], known[order]
    )
    twice = Labels(*(np.concatenate([getattr(labels, f)] * 2) for f in LABEL_FIELDS))  # labelled twice
    cuts = np.sort(rng.choice(np.arange(1, n), size=35, replace=False))
    remember = rng.random(36) < 0.8
    cfg = FeatureConfig(card_windows_days=(1, 3), terminal_windows_days=(2, 5), label_delay_days=1 + seed % 3)
    for case in (
        _both_batch_by_batch(events, labels, cuts),
        _both_batch_by_batch(events, twice, cuts, remember),
        _both_batch_by_batch(events, labels, cuts, remember, cfg),
    ):
        assert case[0] == case[1]
    no_delay = FeatureConfig(label_delay_days=0)  # a row's own earlier entry is in its merchant window
    python, nat, _ = _both_batch_by_batch(events, labels, cuts, remember, no_delay)
    assert python == nat


def test_expiry_compaction_and_the_watermark_match() -> None:
    rng = np.random.default_rng(9)
    ts = T0 + np.arange(4_000) * 3_600  # 166 days, one event an hour
    events = Events(ts, rng.integers(0, 30, 4_000), rng.integers(0, 20, 4_000), rng.integers(1, 9_000, 4_000))
    states = [FeatureState(), feature_state(FeatureConfig())]
    for lo in range(0, 4_000, 500):
        rows = [s.transform(_part(events, lo, lo + 500)).tobytes() for s in states]
        assert rows[0] == rows[1]
    for s in states:
        s.compact()
    # after a compaction both hold exactly the entries a later row can see: 30 card days, 37 merchant days
    assert states[0].remembered == states[1].remembered == 30 * 24 + 37 * 24
    for s in states:
        s.advance(int(ts[-1]) + 400 * DAY_S)  # the watermark moved on: everything expires
        s.compact()
    assert states[0].remembered == states[1].remembered == 0


def test_bad_bytes_are_refused() -> None:
    from fraud_native import FeatureHistory

    h = FeatureHistory([1], [1], 7)
    with pytest.raises(ValueError, match="not int64"):
        h.transform(b"\x00" * 7, b"", b"", b"", True)
    with pytest.raises(ValueError, match="different lengths"):
        h.transform(np.zeros(2, dtype=np.int64).tobytes(), b"", b"", b"", True)
    with pytest.raises(ValueError, match="whole days"):
        FeatureHistory([0], [1], 7)


def test_the_bridge_setting_picks_the_feature_state() -> None:
    from bridge.config import load_settings
    from bridge.model_serving import ModelServing
    from common.settings import ConfigError

    assert load_settings({}).model_features == "auto"
    assert load_settings({"BRIDGE_MODEL_FEATURES": "python"}).model_features == "python"
    with pytest.raises(ConfigError, match="BRIDGE_MODEL_FEATURES"):
        load_settings({"BRIDGE_MODEL_FEATURES": "rust"})
    watcher: object = None  # never read by the scorer's construction
    native = ModelServing(watcher, {}, 100)._new_scorer()  # type: ignore[arg-type]
    python = ModelServing(watcher, {}, 100, native_features=False)._new_scorer()  # type: ignore[arg-type]
    assert isinstance(native.state, NativeFeatureState) and type(python.state) is FeatureState


@pytest.mark.parametrize("seed", range(20))
def test_random_interleavings_of_every_operation(seed: int) -> None:
    """Batches (remembered or not), labels in any order and given again after their pruning, the
    watermark moved by hand and compactions, in random order: the same features throughout."""
    rng = np.random.default_rng(100 + seed)
    cfg = FeatureConfig(label_delay_days=int(rng.integers(0, 3)))
    states = [FeatureState(cfg), feature_state(cfg)]
    now, tx = T0, 0
    for _ in range(60):
        op = rng.random()
        if op < 0.6:
            n = int(rng.integers(0, 40))
            now += int(rng.integers(0, 3 * DAY_S))
            ts = now + rng.integers(-5 * DAY_S, DAY_S, n)
            hot = rng.random(n) < 0.5  # one card-testing card takes half the batch: long histories
            card = np.where(hot, 0, rng.integers(1, 9, n))
            batch = Events(ts, card, rng.integers(0, 6, n), rng.integers(1, 90_000, n))
            remember = bool(rng.random() < 0.85)
            got = [s.transform(batch, remember).tobytes() for s in states]
            assert got[0] == got[1]
        elif op < 0.8:
            k = int(rng.integers(1, 12))
            ids = rng.integers(max(0, tx - 200), tx + 20, k)  # some seen, some not yet, some again
            txn_ts = now - rng.integers(0, 60 * DAY_S, k)
            known = txn_ts + rng.integers(0, 30 * DAY_S, k)  # not in known_at order
            labels = Labels(ids, rng.integers(0, 6, k), txn_ts, known)
            for s in states:
                s.add_labels(labels)
            tx += k
        elif op < 0.9:
            now += int(rng.integers(0, 10 * DAY_S))
            for s in states:
                s.advance(now)
        else:
            for s in states:
                s.compact()
            assert states[0].remembered == states[1].remembered
