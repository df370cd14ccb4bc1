"""Section 3: producer CLI send loop (generate + send at --rate 0) vs raw send() of ready bytes."""

from __future__ import annotations

import logging
from typing import Any

from bench.bridge_run import run_worker
from bench.stack import Context, machine_note
from bench.stats import ratios, summarize


def _rate(samples: list[tuple[float, int]]) -> float:
    (t0, _), (t1, n) = samples[0], samples[-1]
    return n / (t1 - t0) if t1 > t0 else float("nan")


def run(ctx: Context) -> dict[str, Any]:
    """Interleave both loops per repetition, each in a fresh process writing to its own topic."""
    n = ctx.sizes.producer_events
    lib, raw = [], []
    for rep in range(ctx.sizes.reps):
        lib.append(_rate(run_worker(ctx, "library-send", ctx.new_topic("prod-lib"), n, seed=rep)))
        raw.append(_rate(run_worker(ctx, "raw-send", ctx.new_topic("prod-raw"), n, seed=rep)))
        logging.getLogger(__name__).info(
            "bench: producer rep=%d library=%.0f raw=%.0f ev/s", rep + 1, lib[-1], raw[-1]
        )
    return {
        "events": n,
        "library_eps": summarize(lib),
        "raw_send_eps": summarize(raw),
        "ratio_library_vs_raw": summarize(ratios(lib, raw)),
        "machine": machine_note(),
    }
