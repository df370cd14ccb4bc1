"""`python -m backtest worker|run|status|cancel|delete|export`: backtests from the command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from backtest.export import csv_text, json_text
from backtest.runs import FINISHED, RunNotFound, RunStore
from backtest.settings import load_settings
from backtest.worker import serve
from common.keys import RedisKeys
from common.rulelang import load_text, parse_document
from common.rules import RuleValidationError

logger = logging.getLogger("backtest")


def parse_time(text: str) -> int:
    """ISO-8601 (a naive time is UTC) -> epoch ms."""
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m backtest", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker", help="take queued runs one at a time until SIGTERM")
    w.add_argument("--max-runs", type=int, default=None, help="exit 0 after N runs")
    r = sub.add_parser("run", help="queue a backtest of a draft rules file against the live rules")
    r.add_argument("--draft", required=True, type=Path, help="rules document (YAML or JSON)")
    r.add_argument("--from", dest="from_ms", type=parse_time, default=None, help="ISO time (UTC)")
    r.add_argument("--to", dest="to_ms", type=parse_time, default=None, help="ISO time (default: now)")
    r.add_argument("--wait", action="store_true", help="follow the progress and print the result")
    r.add_argument("--by", default="cli", help="who asked (shown with the run)")
    r.add_argument("--model", help="the registered model version model_score reads (default: the champion)")
    s = sub.add_parser("status", help="every run kept, or one run")
    s.add_argument("run_id", nargs="?")
    for name in ("cancel", "delete"):
        sub.add_parser(name, help=f"{name} a run").add_argument("run_id")
    e = sub.add_parser("export", help="a finished run's result")
    e.add_argument("run_id")
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    return parser.parse_args(argv)


def _table(result: dict[str, Any]) -> str:
    lines = [f"{'rule':<28}{'live':>8}{'draft':>8}{'added':>8}{'removed':>9}{'same':>8}"]
    for row in result["rules"]:
        lines.append(
            f"{row['rule']:<28}{row['live']['alerts']:>8}{row['draft']['alerts']:>8}"
            f"{row['added']:>8}{row['removed']:>9}{row['unchanged']:>8}"
        )
    return "\n".join(lines)


def _wait(store: RunStore, run_id: str) -> int:
    while True:
        run = store.get(run_id)
        p = run["progress"] or {}
        sys.stderr.write(f"\r{run['status']}: {p.get('done', 0):,}/{p.get('total', 0):,} events  ")
        if run["status"] in FINISHED:
            sys.stderr.write("\n")
            if run["error"]:
                sys.stderr.write(f"{run['error']}\n")
            result = store.result(run_id)
            if result is not None:
                sys.stdout.write(_table(result) + "\n")
            return 0 if run["status"] == "done" else 1
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    settings = load_settings()
    if args.cmd == "worker":
        stopping = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.set())
        serve(settings, stopping, args.max_runs)
        return 0
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    store = RunStore(client, RedisKeys(settings.redis_key_prefix))
    try:
        return _command(args, store, client, RedisKeys(settings.redis_key_prefix))
    except RunNotFound as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    finally:
        client.close()


def _command(  # noqa: PLR0911 - one return per subcommand
    args: argparse.Namespace, store: RunStore, client: redis.Redis, keys: RedisKeys
) -> int:
    if args.cmd == "run":
        try:
            document = load_text(args.draft.read_bytes())
            lists = [k.decode() for k in client.hkeys(keys.lists_index)]  # type: ignore[union-attr]
            parse_document(document, known_lists=lists)
        except (OSError, RuleValidationError) as exc:
            sys.stderr.write(f"draft refused: {exc}\n")
            return 2
        if args.model and not client.hexists(keys.models, args.model):
            sys.stderr.write(f"model refused: no model version {args.model!r} is registered\n")
            return 2
        run_id = store.submit(document, args.from_ms, args.to_ms, args.by, args.model)
        sys.stdout.write(f"{run_id}\n")
        return _wait(store, run_id) if args.wait else 0
    if args.cmd == "status":
        runs = [store.get(args.run_id)] if args.run_id else store.runs()
        for run in runs:
            p = run["progress"] or {}
            done, total = p.get("done", 0), p.get("total", 0)
            line = f"{run['id']}  {run['status']:<9} by {run['by']:<12} {done:>10,}/{total:,}"
            sys.stdout.write(f"{line}  {run['error'] or ''}\n")
        return 0
    if args.cmd == "cancel":
        sys.stdout.write(f"{store.cancel(args.run_id)}\n")
        return 0
    if args.cmd == "delete":
        return 0 if store.delete(args.run_id) else 2
    run, result = store.get(args.run_id), store.result(args.run_id)
    if result is None:
        sys.stderr.write(f"run {args.run_id} has no result (status {run['status']})\n")
        return 2
    sys.stdout.write(csv_text(result) if args.format == "csv" else json_text(run, result) + "\n")
    return 0
