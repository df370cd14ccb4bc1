"""Section: model serving — the bridge with the champion scoring every event, beside raw consumption.

Variants per repetition, on the bridge section's quiet dataset (default rules in each): `native`
(no champion: the native engine decides), `python` (no champion, BRIDGE_ENGINE=python: the
reference path alone), `champion` (a registered champion of the real feature layout and tree
count, and a rule reading `model_score`; warm-up off, so every event after the model loads is
scored live; the native engine decides the quiet events with the scores) and `champion_python`
(the same on the Python engine alone: the native engine's gain with a model); `champion_pyfeatures`
(the native engine with the Python feature state, BRIDGE_MODEL_FEATURES=python: the native feature
state's gain, model/native_features.py); `champion_lgbtrees` (the native engine with LightGBM's
predict, BRIDGE_MODEL_TREES=lightgbm: the native trees' gain, model/native_trees.py); `tail` (not
a bridge: the merchant tail alone, reading the whole topic into a history without scoring it, as a
bridge reads the partitions other bridges consume: its cost per event). Once per run, the
warm-up alone: a bridge that starts with a champion over the whole topic as history, timed from
its own log.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from bench.bridge_run import run_worker_full, start_bridges, write_rules
from bench.feed import dataset
from bench.stack import Context, machine_note, stop
from bench.stats import summarize, window_rate
from bench.variants import Variant, measured_bridge, side_by_side
from common.keys import RedisKeys
from common.model_registry import CHAMPION
from common.rulelang import to_document
from common.rules import default_rules
from dashapp.store.rules_store import RulesStore
from model.registry import ModelRegistry

logger = logging.getLogger(__name__)
VARIANTS = (
    "native", "python", "champion", "champion_lgbtrees", "champion_pyfeatures", "champion_python", "tail"
)  # fmt: skip
CHAMPIONS = tuple(v for v in VARIANTS if v.startswith("champion"))
MODEL_RULE: dict[str, Any] = {
    "id": "model_high",
    "name": "Model says fraud",
    "description": "The champion's probability of fraud is 0.8 or more.",
    "enabled": True,
    "score": 0.9,
    "when": {"feature": "model_score", "op": "ge", "value": 0.8, "as": "p"},
    "explain": "model score {p}",
}
_SCORED = re.compile(r"scored ([\d,]+) events")
_WARM = re.compile(r"model warm-up done in ([\d.]+) s: (\d+) events")


def _champion(ctx: Context, keys: RedisKeys) -> None:
    """A champion over the real feature layout with the real tree count (random data: cost only; it
    scores high the rare amounts over $3,000, so the stream stays quiet)."""
    import numpy as np

    from model.features import FeatureConfig
    from model.store import CARD_FILE, MODEL_FILE, save
    from model.train import fit_lightgbm

    config = FeatureConfig()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5_000, len(config.names())))
    x[:, 0] = np.exp(rng.uniform(0, np.log(20_000), 5_000))  # amounts; "fraud" over $3,000: rare
    booster = fit_lightgbm(x, x[:, 0] > 3_000)
    path = save(ctx.out_dir / "models" / keys.prefix.strip(":"), booster, config, {})
    registry = ModelRegistry(ctx.redis, keys)
    card = json.loads((path / CARD_FILE).read_text())
    entry = registry.register((path / MODEL_FILE).read_text(), card, "bench")
    registry.set_state(entry.version, CHAMPION, "bench")
    doc = to_document(default_rules())
    doc["rules"].append(MODEL_RULE)
    RulesStore(ctx.redis, keys).publish(doc, "bench", "model rule")


def _scored(ctx: Context, keys: RedisKeys) -> dict[str, Any]:
    names: Any = ctx.redis.zrange(keys.bridges, 0, -1)
    raw: list[Any] = [ctx.redis.hget(keys.bridge(n.decode()), "model") for n in names]
    lines = [r.decode() if isinstance(r, bytes) else "" for r in raw]
    found = [_SCORED.search(line) for line in lines]
    return {"scored": sum(int(m.group(1).replace(",", "")) for m in found if m)}


def _variant(ctx: Context, topic: str, total: int, name: str) -> Variant:
    def tail(tag: str) -> dict[str, Any]:
        samples, cpu_s = run_worker_full(ctx, "merchant-tail", topic, total)
        eps = window_rate(samples, total, ctx.sizes.window_frac)
        return {"eps": eps, "cpu_us": 1e6 * cpu_s / total, "alert_share": 0.0, "engine": "merchant tail"}

    def one(tag: str) -> dict[str, Any]:
        keys = ctx.new_keys(f"sv{tag}")
        write_rules(ctx, keys, ml=False)
        env = {"BRIDGE_ENGINE": "python"} if name in {"python", "champion_python"} else {}
        if name in {"champion_pyfeatures", "champion_python"}:
            env["BRIDGE_MODEL_FEATURES"] = "python"  # the reference state, as before the native one
        if name == "champion_lgbtrees":
            env["BRIDGE_MODEL_TREES"] = "lightgbm"  # LightGBM's predict, as before the native trees
        if name.startswith("champion"):
            _champion(ctx, keys)
            env["BRIDGE_MODEL_WARMUP"] = "0"
        return measured_bridge(ctx, topic, total, keys, f"sv-{tag}", env=env, read=lambda k: _scored(ctx, k))

    return tail if name == "tail" else one


def _warmup(ctx: Context, topic: str) -> dict[str, Any]:
    """A bridge starting with a champion reads the topic as history; its log says how fast."""
    keys = ctx.new_keys("svwarm")
    write_rules(ctx, keys, ml=False)
    _champion(ctx, keys)
    procs = start_bridges(ctx, topic, keys, 1, "sv-warm", LOG_LEVEL="INFO")
    log = ctx.out_dir / "logs" / "bridge-sv-warm.log"
    try:
        deadline = time.monotonic() + ctx.sizes.timeout_s
        while time.monotonic() < deadline:
            found = _WARM.search(log.read_text()) if log.exists() else None
            if found:
                seconds, events = float(found.group(1)), int(found.group(2))
                return {"seconds": seconds, "events": events, "eps": events / max(seconds, 1e-3)}
            time.sleep(0.2)
        raise RuntimeError("bench: the serving warm-up never finished")
    finally:
        stop(procs)
        ctx.drop_prefix(keys)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _state_cost(history: int, batches: int = 200, batch: int = 500) -> dict[str, Any]:
    """In process, the native and the Python feature state side by side: memory per remembered
    transaction (each state built in turn, both kept alive, so each delta is its own), and the time
    of one 500-event batch's features over `history` remembered transactions (50,000 cards, 5,000
    merchants), the two states alternating on the same batches."""
    import numpy as np

    from model.features import FeatureConfig
    from model.serving import OnlineScorer
    from model.serving_rows import Row

    t0 = 1_700_000_000

    def rows(lo: int, n: int, seed: int) -> list[Row]:
        rng = np.random.default_rng(seed)  # the same rows for both states
        cards, merchants = rng.integers(0, 50_000, n), rng.integers(0, 5_000, n)
        cents = rng.integers(100, 100_000, n)
        return [
            Row(f"t{lo + i}", t0 + (lo + i) // 20, f"C{cards[i]}", f"M{merchants[i]}", int(cents[i]))
            for i in range(n)
        ]

    bound = 10 * history + 10 * batch * batches
    scorers, per_txn = {}, {}
    for name, native in (("native", True), ("python", False)):
        before = _rss_bytes()
        scorers[name] = OnlineScorer(FeatureConfig(), bound, native=native)
        for lo in range(0, history, 20_000):
            scorers[name].features(rows(lo, min(20_000, history - lo), lo))
        per_txn[name] = (_rss_bytes() - before) / history
    times: dict[str, list[float]] = {"native": [], "python": []}
    for k in range(batches):
        chunk = rows(history + k * batch, batch, history + k)
        for name in ("native", "python") if k % 2 == 0 else ("python", "native"):
            t = time.perf_counter()
            scorers[name].features(chunk)
            times[name].append((time.perf_counter() - t) * 1000)
    return {
        "history": history,
        "batch": batch,
        "bytes_per_txn": per_txn["native"],
        "batch_ms": summarize(times["native"]),
        "python": {"bytes_per_txn": per_txn["python"], "batch_ms": summarize(times["python"])},
    }


def run(ctx: Context) -> dict[str, Any]:
    total = ctx.sizes.bridge_events
    before = machine_note()
    topic = dataset(ctx, "bridge", total)
    variants = {name: _variant(ctx, topic, total, name) for name in VARIANTS}
    out, runs = side_by_side(ctx, "serving", topic, total, variants)
    for name in CHAMPIONS:
        out[name]["scored"] = [r["scored"] for r in runs[name]]
    state = _state_cost(20_000 if ctx.smoke else 1_000_000)
    return {
        **out,
        "warmup": _warmup(ctx, topic),
        "state": state,
        "machine": {"before": before, "after": machine_note()},
    }


def _python_state(st: dict[str, Any]) -> str:
    from bench.report import fmt

    py = st.get("python")
    if not py:  # a run from before the native feature state
        return ""
    return (
        f" (the Python feature state, side by side: {py['bytes_per_txn']:,.0f} bytes, "
        f"{fmt(py['batch_ms'], 1)} ms)"
    )


def table(results: dict[str, Any]) -> str:
    """docs/model.md's serving figures (spliced by bench/docs.py after the handbook's)."""
    from bench.report import fmt

    r = results.get("serving")
    if not r:
        return "(no serving figures yet: `python -m bench run --only serving`)"
    meta = results.get("meta", {})
    when = meta.get("section_dates", {}).get("serving") or meta.get("date", "?")
    names = {"native": "rules only, native engine", "python": "rules only, Python engine",
             "champion": "champion scoring every event, native engine",
             "champion_lgbtrees": "the same with LightGBM's predict (not the native trees)",
             "champion_pyfeatures": "the same with the Python feature state",
             "champion_python": "champion scoring every event, Python engine",
             "tail": "merchant tail alone: other bridges' events into the history"}  # fmt: skip
    rows = ["| bridge | bridge ÷ raw (ev/s) | CPU µs per event | engine |", "|---|---|---|---|"]
    for key, label in names.items():
        v = r.get(key)
        if v is None:  # a run from before the variant existed
            continue
        ratio, cpu = fmt(v["ratio_bridge_vs_raw"], 2), fmt(v["cpu_us_per_event"], 1)
        rows.append(f"| {label} | {ratio} | {cpu} | {v['engine']} |")
    w, n, cpus = r["warmup"], r["raw_consumer_eps"]["n"], meta.get("cpus", "?")
    st = r["state"]
    scored = ", ".join(f"{k:,}" for name in CHAMPIONS for k in r.get(name, {}).get("scored", []))
    return "\n".join(
        [
            "Serving (section `serving`):",
            "",
            *rows,
            "",
            f"Median (min to max) of {n} repetitions ({when}, {cpus} shared cores), {r['events']:,} "
            f"events of the default mix; raw kafka-python {fmt(r['raw_consumer_eps'])} ev/s. "
            f"Events scored by the champion per run (native engine runs first): {scored}. "
            f"Warm-up: {w['events']:,} events of history read and added in {w['seconds']:.1f} s "
            f"({w['eps']:,.0f} ev/s). Feature state, in process: {st['bytes_per_txn']:,.0f} bytes per "
            f"remembered transaction; a {st['batch']}-event batch's features over {st['history']:,} "
            f"remembered transactions take {fmt(st['batch_ms'], 1)} ms{_python_state(st)}.",
        ]
    )
