"""`python -m bench.ab_bridge --before DIR`: this checkout's bridge against another's, side by side.

For a refactor of the bridge: both bridges consume the same pre-produced topic in alternating
order within each repetition (a raw kafka-python consumer beside them as the yardstick), so a
machine's drift hits both. Prints and writes {rate, CPU per event, ratios} as min/median/max.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from bench.bridge_run import run_bridges, run_worker_full
from bench.config import sizes_for
from bench.feed import dataset
from bench.stack import REPO_ROOT, Context, ensure_services, machine_note
from bench.stats import ratios, summarize, window_rate

logger = logging.getLogger(__name__)


def compare(ctx: Context, before: Path, events: int, reps: int) -> dict[str, Any]:
    """Interleave raw / before / after (order swapped every repetition) on one topic."""
    topic = dataset(ctx, "ab-bridge", events)
    sides: dict[str, Path] = {"before": before, "after": REPO_ROOT}
    rate: dict[str, list[float]] = {k: [] for k in (*sides, "raw")}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    for rep in range(reps):
        samples, _ = run_worker_full(ctx, "raw-consumer", topic, events, group=ctx.name("raw"))
        rate["raw"].append(window_rate(samples, events, ctx.sizes.window_frac))
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for side in order:
            ctx.repo = sides[side]  # the bridge process starts in (and imports from) that checkout
            run = run_bridges(ctx, topic, events, instances=1, tag=f"ab-{side}")
            rate[side].append(run.rate)
            cpu[side].append(1e6 * run.cpu_s / events)
        ctx.repo = REPO_ROOT
        logger.info("ab: rep=%d %s", rep + 1, {k: round(v[-1]) for k, v in rate.items()})
    return {
        "events": events,
        "before": str(before),
        "bridge_eps": {k: summarize(rate[k]) for k in sides},
        "raw_consumer_eps": summarize(rate["raw"]),
        "ratio_vs_raw": {k: summarize(ratios(rate[k], rate["raw"])) for k in sides},
        "ratio_after_vs_before": summarize(ratios(rate["after"], rate["before"])),
        "cpu_us_per_event": {k: summarize(cpu[k]) for k in sides},
        "cpu_ratio_after_vs_before": summarize(ratios(cpu["after"], cpu["before"])),
        "machine": machine_note(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab_bridge", description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (e.g. a git worktree)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not (args.before / "bridge" / "__main__.py").is_file():
        parser.error(f"{args.before} is not a checkout of this project (no bridge/__main__.py)")
    bootstrap, redis_url, _ = ensure_services()
    ctx = Context(sizes_for(False, args.reps), False, bootstrap, redis_url)
    ctx.out_dir = Path(args.out).parent if args.out else REPO_ROOT / "bench" / "out"
    try:
        result = compare(ctx, args.before.resolve(), args.events, args.reps)
    finally:
        ctx.close()
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
