"""The ids and placements of online scoring: the native keys (fraud_native.ServingIds) and the
Python reference (model/serving_keys.py) give the same answers to the same calls."""

from __future__ import annotations

import random

import numpy as np
import pytest

from model.serving_keys import BAD_TIME, COPY, FRESH, OLDER, Keys, NativeKeys, serving_keys
from tests.native_gate import needs_native

pytestmark = needs_native()


def native() -> NativeKeys:
    keys = serving_keys(native=True)
    assert isinstance(keys, NativeKeys)
    return keys


def test_a_batch_is_classified_alike() -> None:
    for keys in (Keys(), native()):
        keys.place(["a", "b"], np.array([0, 1]), np.array([10, 20]))
        kinds = keys.classify(["c", "a", "c", "d", "c", "b"])
        assert kinds.kind.tolist() == [FRESH, OLDER, COPY, FRESH, COPY, OLDER]
        assert kinds.first.tolist() == [-1, -1, 0, -1, 0, -1]
        assert keys.classify(["x", "y"]).kind.tolist() == [FRESH, FRESH]  # the quick way out
    assert BAD_TIME not in (FRESH, OLDER, COPY)


def test_random_calls_get_the_same_answers() -> None:
    rng = random.Random(7)
    ref, nat = Keys(), native()
    clock = 0
    for step in range(400):
        n = rng.randint(0, 60)
        txns = [f"t{rng.randint(0, 2_000)}" for _ in range(n)]
        cards = [f"c{rng.randint(0, 300)}" for _ in range(n)]
        merchants = [f"m{rng.randint(0, 50)}" for _ in range(n)]
        a, b = ref.classify(txns), nat.classify(txns)
        assert a.kind.tolist() == b.kind.tolist() and a.first.tolist() == b.first.tolist(), step
        ca, ma = ref.number(cards, merchants)
        cb, mb = nat.number(cards, merchants)
        assert ca.tolist() == cb.tolist() and ma.tolist() == mb.tolist(), step
        fresh = [i for i in range(n) if a.kind[i] == FRESH]
        secs = np.array([clock + rng.randint(-30, 30) for _ in fresh], dtype=np.int64)
        for keys in (ref, nat):
            keys.place([txns[i] for i in fresh], ma[fresh], secs)
        clock += 10
        if step % 7 == 0:
            for keys in (ref, nat):
                keys.forget(clock - 300)
        probe = f"t{rng.randint(0, 2_000)}"
        assert ref.placed_at(probe) == nat.placed_at(probe), step
        if step % 5 == 0:
            assert ref.label_id(probe) == nat.label_id(probe)
        assert (ref.held, ref.placed_count) == (nat.held, nat.placed_count), step
    assert 0 < ref.placed_count < 2_000  # some were forgotten, some kept


def test_bad_input_is_refused_with_a_clear_error() -> None:
    nat = native()
    with pytest.raises(ValueError, match="differ in length"):
        nat.native.number(["c1"], [])
    with pytest.raises(ValueError, match="int64"):
        nat.native.place(["t"], b"\x00" * 3, b"\x00" * 8)
    with pytest.raises(TypeError):
        nat.native.classify(["t", 3])


def test_the_engine_numbers_amounts_and_times_as_the_rows_do() -> None:
    """Engine.model_columns: cents rounded half to even after the same two products as usd_cents,
    at least 1, an unknown currency at rate 1; seconds floored; an impossible time not numbered."""
    import json

    from bridge.native import NativePath
    from common.rules import default_rules
    from common.schema import decode_event
    from model.serving_rows import Row
    from model.windows import MAX_TIME
    from producer import generate
    from tests.test_native_path import as_records

    rates = dict(default_rules().currency)
    records = as_records(generate(seed=5, count=40))
    tricky = [0.125, 0.375, 0.0025, 0.005, 1e9, 19.995, 0.01, 123.455]
    currencies = [*sorted(rates), "XTS"]  # XTS: a code no rate names (rate 1)
    for i, rec in enumerate(records):
        doc = json.loads(rec.value)
        doc["amount"], doc["currency"] = tricky[i % len(tricky)], currencies[i % len(currencies)]
        if i < 3:  # exact halves of a cent: 12.5 -> 12, 37.5 -> 38, 62.5 -> 62 (half to even)
            doc["amount"], doc["currency"] = (0.125, 0.375, 0.625)[i], "USD"
        if i == 7:
            doc["ts"] = "2126-01-01T00:00:00.999Z"
        records[i] = rec._replace(value=json.dumps(doc, separators=(",", ":")).encode())
    path = NativePath(default_rules(), 100_000, 1_000)
    path.scan(records)
    keys = native()
    latest = 4_102_444_800  # 2100-01-01: the 2126 event lies past it
    raw = path.engine.model_columns(keys.native, rates, latest, MAX_TIME, [])
    index, secs, _, _, cents = (np.frombuffer(r, dtype=np.int64) for r in raw[:5])
    kind = np.frombuffer(raw[5], dtype=np.int8)
    assert index.tolist() == list(range(len(records)))  # every record parsed natively
    want = [Row.of(decode_event(r.value), rates) for r in records]
    assert cents.tolist() == [w.amount_cents for w in want]
    assert cents.tolist()[:3] == [12, 38, 62] and rates.get("USD", 1.0) == 1.0
    assert secs.tolist() == [w.ts_s for w in want]
    assert [int(k) for k in kind] == [BAD_TIME if i == 7 else FRESH for i in range(len(records))]
    good = [w for i, w in enumerate(want) if i != 7]  # only possible rows are numbered
    assert keys.held == len({w.card_id for w in good}) + len({w.merchant_id for w in good})
