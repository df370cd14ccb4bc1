"""`python -m bench run [--smoke] [--only SECTION ...] [--reps N]`: benchmarks on the real local stack.

The full run writes bench/results.json, bench/*.png, the tables of docs/performance.md and the
README's headline figures (bench/docs.py); the smoke run writes everything to bench/out/ only and
asserts nothing about speed. `python -m bench docs` re-splices the doc blocks from results.json.
`run --out DIR` writes only into DIR; `python -m bench merge DIR` then takes its sections into
bench/results.json (bench/merge.py) and re-splices.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    docs,
    merge,
    plots,
    report,
    sec_alerts_out,
    sec_backtest,
    sec_bridge,
    sec_dash,
    sec_handbook,
    sec_latency,
    sec_memory,
    sec_producer,
    sec_quality,
    sec_registry,
    sec_rules,
    sec_search,
    sec_serving,
    sec_shadow,
    sec_webhooks,
)
from bench.config import sizes_for
from bench.stack import REPO_ROOT, Context, ensure_services, machine_note

logger = logging.getLogger("bench")
SECTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "bridge": sec_bridge.run,
    "quality": sec_quality.run,
    "producer": sec_producer.run,
    "latency": sec_latency.run,
    "dash": sec_dash.run,
    "memory": sec_memory.run,
    "search": sec_search.run,
    "registry": sec_registry.run,
    "rules": sec_rules.run,
    "backtest": sec_backtest.run,
    "alerts_out": sec_alerts_out.run,
    "webhooks": sec_webhooks.run,
    "shadow": sec_shadow.run,
    "handbook": sec_handbook.run,
    "serving": sec_serving.run,
}
BENCH_DIR = REPO_ROOT / "bench"


def _git_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


def run(smoke: bool, only: list[str], reps: int | None, out_dir: Path | None = None) -> int:
    """Run the chosen sections, write every output; return the process exit code."""
    sizes = sizes_for(smoke, reps)
    out = out_dir or (BENCH_DIR / "out" if smoke else BENCH_DIR)
    bootstrap, redis_url, started = ensure_services()
    ctx = Context(sizes, smoke, bootstrap, redis_url)
    ctx.out_dir = out_dir or BENCH_DIR / "out"  # logs and scratch files: a run into --out DIR stays there
    results: dict[str, Any] = {}
    load_start = machine_note()["loadavg"]
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    ran: list[str] = []
    try:
        for name, fn in SECTIONS.items():
            if only and name not in only:
                continue
            t0 = time.monotonic()
            ran.append(name)
            logger.info("bench: section %s starting load=%s", name, machine_note()["loadavg"])
            try:
                results[name] = fn(ctx)
            except Exception as exc:
                logger.error("bench: section %s failed: %s\n%s", name, exc, traceback.format_exc())
                errors[name] = f"{type(exc).__name__}: {exc}"
            timings[name] = round(time.monotonic() - t0, 1)
            logger.info("bench: section %s done in %.0fs", name, timings[name])
    finally:
        ctx.close()
        if started:
            from infra.services import LocalStack

            LocalStack.from_env().down()
        _finish(
            results,
            sizes,
            smoke,
            load_start,
            timings,
            errors,
            out,
            ran,
            scratch=out_dir is not None,
            only=only,
        )
    return 1 if errors else 0


def _finish(
    results: dict[str, Any],
    sizes: Any,
    smoke: bool,
    load_start: list[float],
    timings: dict[str, float],
    errors: dict[str, str],
    out: Path,
    ran: list[str],
    *,
    scratch: bool = False,
    only: list[str] | None = None,
) -> None:
    """Record the run's metadata and write every output (also after an interruption)."""
    results_path = out / "results.json"
    if only and not smoke and results_path.exists():
        # Re-running some sections keeps the others, read now rather than at the start: another
        # run that finished meanwhile (people share one checkout) keeps its sections too.
        earlier = json.loads(results_path.read_text())
        timings = {**earlier.get("meta", {}).get("section_seconds", {}), **timings}
        results = {**earlier, **results, "meta": earlier.get("meta", {})}
    reps_by = dict(results.get("meta", {}).get("reps_by_section", {}))
    reps_by.update({name: sizes.reps for name in ran if name not in errors and name in results})
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # which run each section's figures come from: `--only` keeps the other sections' earlier figures
    dates = dict(results.get("meta", {}).get("section_dates", {}))
    dates.update({name: date for name in ran if name not in errors and name in results})
    results["meta"] = {
        "reps_by_section": reps_by,
        "date": date,
        "section_dates": dates,
        "commit": _git_commit(),
        "smoke": smoke,
        "reps": sizes.reps,
        "cpus": machine_note()["cpus"],
        "load_start": load_start,
        "load_end": machine_note()["loadavg"],
        "sizes": asdict(sizes),
        "section_seconds": timings,
        "errors": errors,
    }
    write_outputs(results, out, smoke, scratch=scratch)


def write_outputs(results: dict[str, Any], out: Path, smoke: bool, *, scratch: bool = False) -> None:
    """results.json, the Markdown table, the plots and (full runs into the repo only) the generated
    doc blocks. `scratch` (a run with `--out DIR`): everything goes to DIR, nothing in the repo changes."""
    report.write_json(results, out / "results.json")
    table = report.markdown(results)
    md = (out if scratch else BENCH_DIR / "out") / ("table-smoke.md" if smoke else "table.md")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(table + "\n")
    written = plots.write_all(results, out)
    logger.info("bench: wrote %s, %s and %d plots", out / "results.json", md, len(written))
    if scratch:
        logger.info("bench: --out given, the docs are not re-spliced (python -m bench docs reads bench/)")
    elif not smoke:
        for path in docs.write_docs(results, REPO_ROOT):
            logger.info("bench: %s updated from the results", path.relative_to(REPO_ROOT))


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: they stop every process we started


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the benchmarks")
    r.add_argument("--smoke", action="store_true", help="tiny sizes, outputs only to bench/out/")
    r.add_argument(
        "--only",
        nargs="+",
        choices=list(SECTIONS),
        default=[],
        metavar="SECTION",
        help=f"run only these sections ({', '.join(SECTIONS)})",
    )
    r.add_argument("--reps", type=int, default=None, help="repetitions (default: 3 full, 1 smoke)")
    r.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: bench/ or bench/out/); with it, nothing in the repo is written",
    )
    sub.add_parser("docs", help="re-splice docs/performance.md and the README headline from results.json")
    m = sub.add_parser(
        "merge", help="take the sections of a `run --out DIR` into bench/results.json, re-splice"
    )
    m.add_argument("dir", type=Path, help="the --out directory of a full (not smoke) run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)  # its IO-thread warnings drown the progress lines
    if args.command == "merge":
        names = merge.merge_dir(args.dir, BENCH_DIR / "results.json", set(SECTIONS))
        logger.info("bench: merged %s from %s", ", ".join(names), args.dir)
    if args.command in ("docs", "merge"):
        changed = docs.write_docs(json.loads((BENCH_DIR / "results.json").read_text()), REPO_ROOT)
        logger.info("bench: regenerated %s", ", ".join(str(p.relative_to(REPO_ROOT)) for p in changed))
        return 0
    return run(args.smoke, args.only, args.reps, args.out)


if __name__ == "__main__":
    sys.exit(main())
