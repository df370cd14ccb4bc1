"""Live end-to-end latency at a fixed rate while a backtest worker replays on the same machine.

Per repetition, side by side: the latency section's one-bridge run (bench/sec_latency.one_rate: the
producer at the rate, record timestamp -> row in Redis) alone, then with a `python -m backtest worker`
kept busy by queued runs over the bridge dataset, with the default settings and with each knob that
bounds its share (BACKTEST_MAX_EPS), and started under `nice -n 10` (a lower CPU priority, which is
not a setting: measured here because it is the first thing one tries). The backtest's own events/s
during the window is recorded too: what the knob costs the backtest.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from backtest.runs import RunStore
from bench.bridge_run import write_rules
from bench.sec_latency import one_rate
from bench.stack import REPO_ROOT, Context, spawn, stop, wait_until
from bench.stats import latency_summary, ratios, summarize

logger = logging.getLogger(__name__)
CAP_EPS = 5_000
NICE = 10
CONDITIONS: dict[str, dict[str, str] | None] = {  # name -> the worker's extra environment (None: none)
    "alone": None,
    "backtest": {},
    f"backtest_nice_{NICE}": {},  # the same worker under `nice` (see BusyWorker)
    f"backtest_max_eps_{CAP_EPS}": {"BACKTEST_MAX_EPS": str(CAP_EPS)},
}
RUNS_QUEUED = 8  # more than the latency window needs: the worker never runs dry during it


class BusyWorker:
    """One backtest worker with runs queued over `topic`; started on enter, SIGTERMed on exit."""

    def __init__(self, ctx: Context, topic: str, draft: dict[str, Any], env: dict[str, str], tag: str):
        self.ctx, self.topic, self.draft, self.extra, self.tag = ctx, topic, draft, env, tag
        self.keys = ctx.new_keys(f"btlive{tag}")
        self.store = RunStore(ctx.redis, self.keys)
        self.ids: list[str] = []
        self.events_per_s = 0.0

    def _done(self) -> int:
        total = 0
        for run_id in self.ids:
            progress = self.store.get(run_id)["progress"] or {}
            total += int(progress.get("done", 0))
        return total

    def __enter__(self) -> BusyWorker:
        write_rules(self.ctx, self.keys, ml=False)
        to_ms = int(time.time() * 1000) + 3_600_000
        self.ids = [self.store.submit(self.draft, 1, to_ms, by="bench") for _ in range(RUNS_QUEUED)]
        env = self.ctx.env(REDIS_KEY_PREFIX=self.keys.prefix, KAFKA_TOPIC=self.topic, **self.extra)
        log = self.ctx.out_dir / "logs" / f"backtest-live-{self.tag}.log"
        if self.tag.startswith("backtest_nice_"):
            self.proc = _spawn_niced(env, log)
        else:
            self.proc = spawn(["-m", "backtest", "worker"], env, log)
        wait_until(lambda: self._done() > 0, 60, "the backtest worker's first events")
        self.t0, self.done0 = time.monotonic(), self._done()
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self.events_per_s = (self._done() - self.done0) / (time.monotonic() - self.t0)
        finally:
            stop([self.proc])
            self.ctx.drop_prefix(self.keys)


def _spawn_niced(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The worker under `nice -n NICE` (every thread it starts inherits the priority)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["nice", "-n", str(NICE), sys.executable, "-m", "backtest", "worker"],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def measure(ctx: Context, topic: str, draft: dict[str, Any]) -> dict[str, Any]:
    """p50/p99 of the live stream per condition, the ratio of each p99 to the run alone, backtest eps."""
    sz = ctx.sizes
    rate = sz.latency_rates[len(sz.latency_rates) // 2]
    lat: dict[str, dict[str, list[float]]] = {name: {} for name in CONDITIONS}
    eps: dict[str, list[float]] = {name: [] for name in CONDITIONS if CONDITIONS[name] is not None}
    for rep in range(sz.reps):
        for name, env in CONDITIONS.items():
            if env is None:
                samples, _ = one_rate(ctx, rate, 300 + rep, 0)
            else:
                with BusyWorker(ctx, topic, draft, env, f"{name}-{rep}") as busy:
                    samples, _ = one_rate(ctx, rate, 300 + rep, 0)
                eps[name].append(busy.events_per_s)
            summary = latency_summary(samples)
            for k in ("p50", "p99", "max"):
                lat[name].setdefault(k, []).append(summary[k])
            logger.info(
                "bench: backtest-live rep=%d %s p50=%.1f p99=%.1f ms backtest=%.0f ev/s",
                rep + 1, name, summary["p50"], summary["p99"], eps.get(name, [0.0])[-1],
            )  # fmt: skip
    alone = lat["alone"]["p99"]
    out: dict[str, Any] = {
        "rate": rate,
        "duration_s": sz.latency_duration_s,
        "cap_eps": CAP_EPS,
        "nice": NICE,
    }
    for name in CONDITIONS:
        row: dict[str, Any] = {k: summarize(v) for k, v in lat[name].items()}
        if name != "alone":
            row["p99_vs_alone"] = summarize(ratios(lat[name]["p99"], alone))
            row["backtest_eps"] = summarize(eps[name])
        out[name] = row
    return out
