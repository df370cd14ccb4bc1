"""With a champion scoring every event, the native engine still decides the quiet events itself and
gives exactly the Python engine's writes: both read the same `model_score` of every event, alerts
quote the same reasons, and a record only Python can parse keeps its place in the feature rows."""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace
from typing import Any

import msgspec
import numpy as np
import pytest

from bridge.batch_engines import NativeEngine
from bridge.detection import CardState, Decision, Detector
from bridge.model_serving import ModelServing
from common.labels import make_label
from common.rulelang.document import parse_custom
from common.rules import RulesConfig, default_rules
from common.schema import Transaction, decode_event, event_epoch_ms
from model.features import FeatureConfig
from model.join import Txn, usd_cents
from model.serving import OnlineScorer
from model.serving_rows import Row
from model.topics import History
from model.train import fit_lightgbm
from producer import generate
from tests.native_gate import needs_native
from tests.streams import generated
from tests.test_native_path import (
    PREFIX,
    VERSION,
    Paths,
    Raised,
    Seen,
    as_records,
    batches,
    record,
    seen,
    unpacked,
)

pytestmark = needs_native()
CUT_USD = 300.0
RATES = default_rules().currency
RULES: list[dict[str, Any]] = [
    {
        "id": "model_high",
        "name": "Model says fraud",
        "enabled": True,
        "score": 0.9,
        "when": {"feature": "model_score", "op": "ge", "value": 0.8, "as": "p"},
        "explain": "model score {p}",
    },
    {
        "id": "model_mid_online",
        "name": "Middling score online",
        "enabled": True,
        "score": 0.6,
        "when": {
            "all": [
                {"feature": "model_score", "op": "between", "value": [0.3, 0.8]},
                {"field": "channel", "op": "eq", "value": "online"},
            ]
        },
        "explain": "middling score online",
    },
]


@pytest.fixture(scope="module")
def watcher() -> SimpleNamespace:
    """A real LightGBM model trained on the real features of another stream of the producer, its
    noisy target rising with the amount and with the card's and the merchant's recent counts: its
    trees read the windows, so a row with a wrong time, card, merchant or place in the batch scores
    differently (and every score band occurs, not only 0 and 1)."""
    names = FeatureConfig().names()
    rates = default_rules().currency
    scorer = OnlineScorer(FeatureConfig(), 10_000_000)
    rows = [Row.of(decode_event(v), rates) for v, _, _ in generated(12_000, seed=21)]
    x = np.concatenate([scorer.features(rows[lo : lo + 1_000])[0] for lo in range(0, len(rows), 1_000)])
    col = {n: x[:, names.index(n)] for n in ("amount", "card_count_1d", "terminal_count_7d")}
    logit = (
        (col["amount"] - CUT_USD) / 80
        + 1.5 * (col["card_count_1d"] - 3)
        + 0.05 * col["terminal_count_7d"]
        - 2
    )
    rng = np.random.default_rng(0)
    booster = fit_lightgbm(x, rng.random(len(x)) < 1 / (1 + np.exp(-logit)))
    assert len({names[i] for i in np.flatnonzero(booster.feature_importance())}) >= 3  # not amount alone
    entry = SimpleNamespace(version="v1", card={})
    return SimpleNamespace(model=SimpleNamespace(booster=booster), entry=entry)


class Recording(ModelServing):
    """ModelServing keeping each batch's feature rows and scores (None: not scored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[tuple[Any, Any] | None] = []
        self.direct = 0  # batches the engine numbered straight into the native keys

    def _score(self, make_rows: Any, direct: Any = None) -> Any:
        if direct is not None:
            self.direct += 1
        got = super()._score(make_rows, direct)
        self.batches.append(None if got is None else (got.x.copy(), got.scores.copy()))
        return got


def model_rules() -> RulesConfig:
    custom = tuple(parse_custom(r, f"rules[{7 + i}]") for i, r in enumerate(RULES))
    return msgspec.structs.replace(default_rules(), custom=custom)


class Counted(Detector):
    """A Detector counting the events Python evaluated, across its with_scores copies."""

    def __init__(self, rules: RulesConfig) -> None:
        super().__init__(rules)
        self.counter = [0]  # shared by the copies with_scores makes

    @property
    def calls(self) -> int:
        return self.counter[0]

    def evaluate(self, event: Transaction, state: CardState | None) -> tuple[Decision, CardState]:
        self.counter[0] += 1
        return super().evaluate(event, state)


class ScoredPaths(Paths):
    """Both engines, each with its own ModelServing over the same champion (so its own history)."""

    def __init__(self, rules: RulesConfig, watcher: Any, history: Any = None) -> None:
        super().__init__(rules)
        self.nat_detector = Counted(rules)
        rates = rules.currency
        self.py_side = Recording(watcher, rates, 1_000_000, history=history)
        self.nat_side = Recording(watcher, rates, 1_000_000, history=history)
        self.py_engine.serving = self.py_side
        self.engine = NativeEngine(self.native, PREFIX)
        self.engine.serving = self.nat_side

    def assert_same_rows(self) -> None:
        """Both sides built the same feature rows and scores, batch by batch (or neither scored)."""
        assert len(self.py_side.batches) == len(self.nat_side.batches) > 0
        for k, (a, b) in enumerate(zip(self.py_side.batches, self.nat_side.batches, strict=True)):
            assert (a is None) == (b is None), k
            if a is not None and b is not None:
                assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes(), k

    def run_native(self, batch: list[Any]) -> Seen | Raised:
        """The bridge's own NativeEngine (scan, score, decide), its packed writes unpacked."""
        try:
            loaded = {c: self.redis.get(c) for c in self.engine.scan(batch)}
            self.loaded += len(loaded)
            decided = self.engine.decide(batch, self.nat_detector, VERSION, loaded)
            out = decided.outcome
            tally, states = unpacked(out.tally, out.packed)
        except Exception as exc:
            return Raised(f"{type(exc).__name__}: {exc}")
        self.engine.keep()
        return seen(tally, out.alerted, decided.rejected, states, out.scored)


def far_future(value: bytes) -> bytes:
    """The same event a century later: an impossible time, scored 0 and kept out of the history."""
    return value.replace(b'"ts":"20', b'"ts":"21', 1)  # 2026 -> 2126


def escaped(value: bytes) -> bytes:
    """The same event with a JSON escape in its category: outside the native parser's subset, so
    Python decodes it and the native side must slot its row in between the ones it parsed."""
    return value.replace(b'"merchant_category":"', b'"merchant_category":"\\u0020', 1)


def test_scored_batches_match_the_python_path(watcher: SimpleNamespace) -> None:
    records = as_records(generate(seed=11, count=8_000))
    for i in range(7, len(records), 97):  # some only Python parses, a dead letter, a resent event
        records[i] = records[i]._replace(value=escaped(records[i].value))
    records[500] = record(b'{"txn_id": 1}', offset=10_000, partition=0)
    records[900] = records[899]
    records[1_300] = records[1_300]._replace(value=far_future(records[1_300].value))
    paths = ScoredPaths(model_rules(), watcher)
    # the native parser's columns are the events exactly as Python decodes them
    rates = default_rules().currency
    sample = records[:600]
    paths.native.scan(sample)
    index, *columns = paths.native.engine.columns()
    assert 500 < len(index) < 600 and 7 not in index  # the escaped one and the dead letter are not in
    assert Row.of_columns(tuple(columns), rates) == [
        Row.of(decode_event(sample[i].value), rates) for i in index
    ]
    texts: dict[str, list[str]] = {"model_high": [], "model_mid_online": []}
    for k, batch in enumerate(batches(records)):
        got = paths.step(batch, f"batch {k}")  # every write compared, alert texts included
        assert isinstance(got, Seen)
        for item in got.alerted:
            assert item.alert is not None
            for r in item.alert.reasons:
                texts.get(r.rule, []).append(r.text)
    paths.assert_same_rows()  # the same feature rows and scores, batch by batch
    # after the first batch (which makes the history), the engine numbered each batch itself, the
    # records only Python parses slotted in among its own
    assert paths.nat_side.direct == len(paths.nat_side.batches) - 1 > 10
    assert paths.py_side.history_entries == paths.nat_side.history_entries > 0
    assert paths.py_side.history.scorer.bad_times == paths.nat_side.history.scorer.bad_times == 1
    # both model rules fired (so the scores reached both engines), with the reasons quoted
    assert len(texts["model_high"]) > 30 and len(texts["model_mid_online"]) > 0
    assert all(re.fullmatch(r"model score [01]\.\d\d \(.+\)", t) for t in texts["model_high"])
    assert paths.dead == 1
    # the native engine decided the quiet majority itself: Python saw the possible alerts only
    assert paths.alerts <= paths.nat_detector.calls < len(records) // 4


def test_batches_the_engine_numbers_itself_match_the_python_path(watcher: SimpleNamespace) -> None:
    """Every record parsed natively: the engine numbers its batch straight into the native keys
    (no Python row per event), with resends within a batch and across batches, impossible times
    and labels, and still builds the Python path's feature rows byte for byte."""
    records = as_records(generate(seed=14, count=6_000))
    records[900] = records[899]  # a copy within one batch
    records[2_600] = records[1_200]  # a resend of an earlier batch's event
    records[3_000] = records[3_000]._replace(value=far_future(records[3_000].value))
    records[3_001] = records[3_000]  # a copy of an impossible one: refused too
    paths = ScoredPaths(model_rules(), watcher)
    events = [decode_event(r.value) for r in records[:4_000] if b'"ts":"21' not in r.value]
    labels = [
        make_label(
            txn_id=e.txn_id,
            card_id=e.card_id,
            label="fraud",
            source="chargeback",
            label_ms=event_epoch_ms(e) + 1,
        )
        for e in events[::40]
    ]
    for side in (paths.py_side, paths.nat_side):
        side.history.labels = SimpleNamespace(drain=lambda: [], stop=lambda: None, error=None)
    for k, batch in enumerate(batches(records)):
        if k == 4:  # labels of events seen and of events still to come (held until they are)
            for side in (paths.py_side, paths.nat_side):
                side.history.labels = SimpleNamespace(
                    drain=lambda: list(labels), stop=lambda: None, error=None
                )
        if k == 5:
            for side in (paths.py_side, paths.nat_side):
                side.history.labels = SimpleNamespace(drain=lambda: [], stop=lambda: None, error=None)
        got = paths.step(batch, f"batch {k}")
        assert isinstance(got, Seen)
    paths.assert_same_rows()
    assert paths.py_side.direct == 0 and paths.nat_side.direct == len(paths.nat_side.batches) - 1 > 4
    py, nat = paths.py_side.history.scorer, paths.nat_side.history.scorer
    assert nat.reads_engine
    assert (py.seen, py.bad_times, py.labels_used) == (nat.seen, nat.bad_times, nat.labels_used)
    assert py.seen == 6_000 - 4 and py.bad_times == 2 and py.labels_used == len(labels)
    assert py.keys.held == nat.keys.held and py.keys.placed_count == nat.keys.placed_count


def test_without_a_champion_the_rules_read_zero_alike() -> None:
    idle = SimpleNamespace(model=None, entry=None)
    paths = ScoredPaths(model_rules(), idle)
    records = as_records(generate(seed=12, count=2_000))
    for k, batch in enumerate(batches(records)):
        paths.step(batch, f"batch {k}")
    assert paths.scored == 2_000 and paths.nat_detector.calls < 2_000 // 4


def test_during_and_after_a_warm_up_both_engines_agree(watcher: SimpleNamespace) -> None:
    """While the history is read, batches are not scored (model_score 0) and are held; at the
    hand-over both sides add them and score alike from then on."""
    release = threading.Event()
    older = [decode_event(v) for v, _, _ in generated(1_500, seed=31)]

    def history(reach_ms: int) -> History:
        release.wait(30)
        txns = [
            Txn(
                e.txn_id,
                event_epoch_ms(e),
                e.card_id,
                e.merchant_id,
                usd_cents(e.amount, e.currency, RATES),
                0,
            )
            for e in older
        ]
        return History(txns, {})

    paths = ScoredPaths(model_rules(), watcher, history=history)
    for side in (paths.py_side, paths.nat_side):
        side.tick()  # starts the warm-up thread
    groups = batches(as_records(generate(seed=13, count=4_000)))
    for k, batch in enumerate(groups[:3]):
        paths.step(batch, f"warming {k}")
    assert paths.py_side.batches[:3] == paths.nat_side.batches[:3] == [None, None, None]
    release.set()
    for side in (paths.py_side, paths.nat_side):
        while side.history.warmup is not None and not side.history.warmup.done:
            time.sleep(0.01)
        side.tick()  # the bridge's housekeeping hands the warmed history over
    for k, batch in enumerate(groups[3:]):
        paths.step(batch, f"after {k}")
    paths.assert_same_rows()
    assert paths.py_side.history.scorer.seen == paths.nat_side.history.scorer.seen == 1_500 + 4_000
