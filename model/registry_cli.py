"""`python -m model registry ...`: list, register, promote, retire and roll back model versions."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

import redis

from common.keys import RedisKeys
from common.model_registry import STATES, ModelEntry
from common.settings import ConfigError, from_env
from model.registry import ModelRegistry, RegistryError
from model.settings import RegistrySettings


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The `registry` subcommand and its actions."""
    r = sub.add_parser("registry", help="model versions: list, register, set state, roll back (audited)")
    acts = r.add_subparsers(dest="action", required=True)
    acts.add_parser("list", help="every version with its state and held-out metrics (JSON)")
    h = acts.add_parser("history", help="the registry's audit, newest first (JSON)")
    h.add_argument("--limit", type=int, default=50)
    reg = acts.add_parser("register", help="store a saved model directory as a candidate")
    reg.add_argument("path", type=Path, help="a directory written by `python -m model train --out`")
    st = acts.add_parser("promote", help="move a version to a state (champion retires the current one)")
    st.add_argument("version")
    st.add_argument("state", choices=STATES)
    rb = acts.add_parser("rollback", help="make the previous champion champion again")
    dl = acts.add_parser("delete", help="remove a candidate or retired version and its file")
    dl.add_argument("version")
    for p in (reg, st, rb, dl):
        p.add_argument("--by", default=None, help="who (default: the login name)")
        p.add_argument("--comment", default="", help="why (kept in the audit)")


def run(args: argparse.Namespace) -> int:
    """Exit 0 done, 2 refused (the reason on stderr, nothing changed), 1 Redis unreachable."""
    try:
        settings = from_env(RegistrySettings)
    except ConfigError as exc:
        sys.stderr.write(f"model registry: {exc}\n")
        return 2
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    registry = ModelRegistry(client, RedisKeys(settings.redis_key_prefix))
    who = getattr(args, "by", None) or login_name()
    try:
        if args.action == "list":
            rows = [_row(e) for e in sorted(registry.entries().values(), key=lambda e: e.registered_at)]
            _print(rows)
        elif args.action == "history":
            _print(registry.history(args.limit))
        elif args.action == "register":
            text, card = _load(args.path)
            entry = registry.register(text, card, who, args.comment)
            _print({"registered": entry.version, "state": entry.state})
        elif args.action == "promote":
            _print({"moved": registry.set_state(args.version, args.state, who, args.comment)})
        elif args.action == "delete":
            registry.delete(args.version, who, args.comment)
            _print({"deleted": args.version})
        else:
            _print({"moved": registry.rollback(who, args.comment)})
    except RegistryError as exc:
        sys.stderr.write(f"model registry: {exc}\n")
        return 2
    except redis.RedisError as exc:
        sys.stderr.write(f"model registry: Redis: {exc}\n")
        return 1
    return 0


def login_name() -> str:
    """Who runs the command, for the audit when `--by` is not given (a container may have no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _load(path: Path) -> tuple[str, dict[str, object]]:
    """The model's text and card, refused here as the bridge would refuse them (model.store.load)."""
    from model.features import FeatureConfig  # LightGBM is imported only to register
    from model.store import CARD_FILE, MODEL_FILE, ModelFileError, load

    try:
        load(path, FeatureConfig())
    except ModelFileError as exc:
        raise RegistryError(str(exc)) from None
    return (path / MODEL_FILE).read_text(), json.loads((path / CARD_FILE).read_text())


def _row(e: ModelEntry) -> dict[str, object]:
    card = e.card
    return {
        "version": e.version,
        "state": e.state,
        "registered": f"{e.registered_at} by {e.registered_by}",
        "changed": f"{e.changed_at} by {e.changed_by}",
        "train_range": card.get("train_range"),
        "test_range": card.get("test_range"),
        "metrics": card.get("metrics"),
    }


def _print(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
