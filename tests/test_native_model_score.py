"""With a champion scoring every event, the native engine still decides the quiet events itself and
gives exactly the Python engine's writes: both read the same `model_score` of every event, alerts
quote the same reasons, and a record only Python can parse keeps its place in the feature rows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec
import numpy as np
import pytest

from bridge.batch_engines import NativeEngine
from bridge.detection import CardState, Decision, Detector
from bridge.model_serving import ModelServing
from common.rulelang.document import parse_custom
from common.rules import RulesConfig, default_rules
from common.schema import Transaction
from model.features import FeatureConfig
from model.train import fit_lightgbm
from producer import generate
from tests.native_gate import needs_native
from tests.test_native_path import (
    PREFIX,
    VERSION,
    Paths,
    Raised,
    Seen,
    as_records,
    batches,
    bulk_strings,
    record,
    seen,
)

pytestmark = needs_native()
CUT_USD = 300.0
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
    """A real LightGBM model of the real feature layout whose score rises with the amount around
    $300 (noisy labels: every score band occurs, not only 0 and 1)."""
    names = FeatureConfig().names()
    rng = np.random.default_rng(0)
    x = np.zeros((6_000, len(names)))
    x[:, 0] = np.exp(rng.uniform(0, np.log(20_000), 6_000))
    booster = fit_lightgbm(x, rng.random(6_000) < 1 / (1 + np.exp(-(x[:, 0] - CUT_USD) / 60)))
    entry = SimpleNamespace(version="v1", card={})
    return SimpleNamespace(model=SimpleNamespace(booster=booster), entry=entry)


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

    def __init__(self, rules: RulesConfig, watcher: Any) -> None:
        super().__init__(rules)
        self.nat_detector = Counted(rules)
        rates = rules.currency
        self.py_engine.serving = ModelServing(watcher, rates, 1_000_000)
        self.engine = NativeEngine(self.native, PREFIX)
        self.engine.serving = ModelServing(watcher, rates, 1_000_000)

    def run_native(self, batch: list[Any]) -> Seen | Raised:
        """The bridge's own NativeEngine (scan, score, decide), its packed writes unpacked."""
        try:
            loaded = {c: self.redis.get(c) for c in self.engine.scan(batch)}
            self.loaded += len(loaded)
            decided = self.engine.decide(batch, self.nat_detector, VERSION, loaded)
            out = decided.outcome
            pk = out.packed
            assert pk is not None
            tally = out.tally._replace(rows=bulk_strings(pk.rows, pk.row_count))
            keys = [k.decode()[len(PREFIX) :] for k in bulk_strings(pk.state_keys, pk.state_count)]
            states = dict(zip(keys, bulk_strings(pk.state_values, pk.state_count), strict=True))
        except Exception as exc:
            return Raised(f"{type(exc).__name__}: {exc}")
        self.engine.keep()
        return seen(tally, out.alerted, decided.rejected, states, out.scored)


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
    paths = ScoredPaths(model_rules(), watcher)
    texts: dict[str, list[str]] = {"model_high": [], "model_mid_online": []}
    for k, batch in enumerate(batches(records)):
        got = paths.step(batch, f"batch {k}")  # every write compared, alert texts included
        assert isinstance(got, Seen)
        for item in got.alerted:
            assert item.alert is not None
            for r in item.alert.reasons:
                texts.get(r.rule, []).append(r.text)
    py_side, nat_side = paths.py_engine.serving, paths.engine.serving
    assert py_side is not None and nat_side is not None
    assert py_side.history_entries == nat_side.history_entries > 0  # the same rows, both sides
    # both model rules fired (so the scores reached both engines), with the reasons quoted
    assert len(texts["model_high"]) > 30 and len(texts["model_mid_online"]) > 0
    assert all(t.startswith("model score ") and "(amount $" in t for t in texts["model_high"])
    assert paths.dead == 1
    # the native engine decided the quiet majority itself: Python saw the possible alerts only
    assert paths.alerts <= paths.nat_detector.calls < len(records) // 4


def test_without_scores_the_rules_read_zero_alike(watcher: SimpleNamespace) -> None:
    """A warm-up not finished (no scores this batch): both engines read model_score as 0."""
    idle = SimpleNamespace(model=None, entry=None)
    paths = ScoredPaths(model_rules(), idle)
    records = as_records(generate(seed=12, count=2_000))
    for k, batch in enumerate(batches(records)):
        paths.step(batch, f"batch {k}")
    assert paths.scored == 2_000 and paths.nat_detector.calls < 2_000 // 4
