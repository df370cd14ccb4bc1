"""`python -m model retrain`: train on the newest labelled range, register it, shadow it if it is better.

Run once (from cron, or by hand), or as a schedule: `--every 7d` and/or `--after-labels N` (that
many new records on the labels topic since the last run). The candidate and the champion are
scored on the same held-out rows (the newest range whose labels have had `--label-wait` to
arrive); the candidate goes to shadow when its average precision is higher. Nothing is ever
made champion here: promotion stays an admin's decision (console, API or `model registry`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from kafka.errors import KafkaError

from backtest.replay import RangeError
from common.keys import RedisKeys
from common.model_registry import CANDIDATE, SHADOW, champion_of
from common.settings import ConfigError, from_env
from model.cli import HeldOut, Ranges, TrainError, iso_time, read_topics, time_ms, train_held_out
from model.drift_store import DriftChecks, NoReference
from model.metrics import ALERT_THRESHOLD
from model.performance import PerformanceChecks
from model.registry import ModelRegistry, RegistryError
from model.registry_cli import login_name
from model.settings import RetrainSettings
from model.topics import TopicReadError

logger = logging.getLogger("model.retrain")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(text: str) -> int:
    """`90s`, `30m`, `12h`, `7d` -> milliseconds (argparse type)."""
    found = _DURATION.match(text.strip())
    if not found or int(found.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"not a positive duration like 30m, 12h or 7d: {text!r}")
    return int(found.group(1)) * _UNIT_MS[found.group(2)]


@dataclass(frozen=True)
class Window:
    """How much history to train and test on, and how long labels take to arrive."""

    train_ms: int
    test_ms: int
    wait_ms: int

    def ranges(self, now_ms: int) -> Ranges:
        """The newest ranges whose labels have arrived: test ends `wait` before now, training before it."""
        end = now_ms - self.wait_ms
        return Ranges(
            train=(end - self.test_ms - self.train_ms, end - self.test_ms), test=(end - self.test_ms, end)
        )


def verdict(candidate: Mapping[str, Any], champion: Mapping[str, Any] | None) -> tuple[bool, str]:
    """Whether the candidate goes to shadow, and why: average precision on the same held-out rows."""
    ap = float(candidate.get("average_precision", math.nan))
    if math.isnan(ap):
        return False, "the held-out range gives no average precision (one class)"
    if champion is None:
        return True, f"AP {ap:.3f}; there is no champion to compare with"
    best = float(champion.get("average_precision", math.nan))
    if math.isnan(best) or ap > best:
        return True, f"AP {ap:.3f} beats the champion's {best:.3f} on the same held-out range"
    return False, f"AP {ap:.3f} does not beat the champion's {best:.3f} on the same held-out range"


def _champion_metrics(registry: ModelRegistry, held: HeldOut) -> tuple[str, dict[str, Any]] | None:
    """The champion scored on the candidate's held-out rows (None without a usable champion)."""
    from model.features import FeatureConfig
    from model.store import ModelFileError, from_registry

    champion = champion_of(registry.entries())
    if champion is None:
        return None
    try:
        raw = registry.model_bytes(champion.version)
        loaded = from_registry(raw, champion.version, champion.card, FeatureConfig())
    except ModelFileError as exc:
        logger.warning("retrain: the champion cannot be scored, compared as absent: %s", exc)
        return None
    _record_checks(registry, loaded, held)
    return champion.version, held.metrics(loaded.booster)


def _record_checks(registry: ModelRegistry, loaded: Any, held: HeldOut) -> None:
    """The champion's drift over the held-out range, as `python -m model drift` records it, and its
    precision and recall there by the labels, as `python -m model performance` does: one point of
    its precision over time per run."""
    if held.span is None:
        return
    scores = _check_by_labels(registry, loaded, held)
    try:
        DriftChecks(registry.client, registry.keys).check(loaded.card, held.x, scores, held.span)
    except NoReference:
        return  # a champion trained before drift checks: nothing to compare with
    except ValueError as exc:
        logger.warning("retrain: no drift check of the champion: %s", exc)


def _check_by_labels(registry: ModelRegistry, loaded: Any, held: HeldOut) -> Any:
    """Record the model's precision and recall on the held-out rows by their labels; its scores."""
    import numpy as np

    scores = np.asarray(loaded.booster.predict(held.x), dtype=np.float64)
    if held.span is not None:
        rows = (held.day, held.card, held.fraud, scores)
        PerformanceChecks(registry.client, registry.keys).check(
            str(loaded.card.get("version")), held.span, rows, ALERT_THRESHOLD, "retrain"
        )
    return scores


def _check_shadows(registry: ModelRegistry, held: HeldOut) -> None:
    """Every version in shadow checked by labels on the champion's held-out rows: the console compares
    their precision on the same range, not only their flags."""
    from model.features import FeatureConfig
    from model.store import ModelFileError, from_registry

    for entry in registry.entries().values():
        if entry.state != SHADOW:
            continue
        try:
            raw = registry.model_bytes(entry.version)
            loaded = from_registry(raw, entry.version, entry.card, FeatureConfig())
        except ModelFileError as exc:
            logger.warning("retrain: shadow %s not checked: %s", entry.version, exc)
            continue
        _check_by_labels(registry, loaded, held)


def prune_candidates(registry: ModelRegistry, keep: int, who: str) -> list[str]:
    """Delete this schedule's own oldest candidates beyond the newest `keep` (0: keep all). A version
    an admin touched since (shadowed, promoted, or moved back: its comment is theirs) always stays."""
    own = sorted(
        (e for e in registry.entries().values()
         if e.state == CANDIDATE and e.registered_by == who and e.comment.startswith("retrain: ")),
        key=lambda e: e.registered_at,
    )  # fmt: skip
    gone = []
    for e in own[: max(0, len(own) - keep)] if keep > 0 else []:
        try:
            registry.delete(e.version, who, f"retrain: pruned (only the newest {keep} candidates are kept)")
        except RegistryError:  # changed meanwhile: it stays
            continue
        gone.append(e.version)
    return gone


def retrain_once(
    settings: RetrainSettings, registry: ModelRegistry, window: Window, out: Path, *, now_ms: int, who: str,
    keep: int = 10,
) -> dict[str, Any]:  # fmt: skip
    """Train, compare with the champion, register the candidate (shadowed if better); what happened.

    Only labels known by `now_ms` are used, so `--now` reproduces an earlier run's data (the
    champion compared is today's). TrainError: nothing registered.
    """
    from model.store import CARD_FILE, MODEL_FILE

    ranges = window.ranges(now_ms)
    data = read_topics(settings, ranges)
    try:
        path, held = train_held_out(
            data, ranges, topic=settings.kafka_topic, labels_topic=settings.kafka_labels_topic, out=out,
            as_of_ms=now_ms,
        )  # fmt: skip
    except TrainError as exc:  # say which ranges --train, --test and --label-wait gave
        assert ranges.test is not None
        raise TrainError(
            f"{exc} (training {iso_time(ranges.train[0])} to {iso_time(ranges.train[1])}, held out "
            f"{iso_time(ranges.test[0])} to {iso_time(ranges.test[1])}: see --train, --test, --label-wait)"
        ) from None
    assert held is not None  # Window.ranges always has a test range
    card = json.loads((path / CARD_FILE).read_text())
    champion = _champion_metrics(registry, held)
    better, why = verdict(card["metrics"], champion[1] if champion else None)
    entry = registry.register((path / MODEL_FILE).read_text(), card, who, f"retrain: {why}")
    state = entry.state
    if better:
        try:
            state = registry.set_state(entry.version, SHADOW, who, f"retrain: {why}")[entry.version]
        except RegistryError as exc:
            why += f"; stays a candidate: {exc}"
    try:
        _check_shadows(registry, held)
    except Exception:  # a check is monitoring: it never costs the run its result or its pruning
        logger.exception("retrain: the shadow versions' checks by labels failed")
    result = {
        "version": entry.version,
        "state": state,
        "why": why,
        "metrics": card["metrics"],
        "champion": champion[0] if champion else None,
        "champion_metrics": champion[1] if champion else None,
        "pruned": prune_candidates(registry, keep, who),
    }
    logger.info("retrain: %s", json.dumps(result, sort_keys=True))
    return result


def add_parser(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "retrain", help="train on the newest range, register, shadow it if it beats the champion"
    )
    r.add_argument("--train", type=duration_ms, default=duration_ms("7d"), help="training range (default 7d)")
    r.add_argument("--test", type=duration_ms, default=duration_ms("7d"), help="held-out range (default 7d)")
    r.add_argument(
        "--label-wait", type=duration_ms, default=duration_ms("7d"),
        help="how long labels take to arrive: the held-out range ends this long before now (default 7d)",
    )  # fmt: skip
    r.add_argument("--out", type=Path, required=True, help="models directory (a subdirectory per run)")
    r.add_argument("--every", type=duration_ms, help="run on a schedule: this long after the last run")
    r.add_argument("--after-labels", type=int, help="run on a schedule: once this many new labels arrived")
    r.add_argument("--check", type=duration_ms, default=duration_ms("30s"), help="how often a schedule looks")
    r.add_argument("--now", help="run once as if it were this time (ISO-8601; reproduces an earlier run)")
    r.add_argument("--by", default=None, help="who registers (default: the login name)")
    r.add_argument(
        "--keep-candidates", type=int, default=10,
        help="delete this schedule's older candidates beyond the newest N (default 10; 0 keeps all)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Once: exit 0 (a candidate registered), 2 refused (nothing registered), 1 Kafka or Redis down.
    On a schedule (model/retrain_schedule.py): until SIGTERM or SIGINT, exit 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    scheduled = args.every is not None or args.after_labels is not None
    try:
        settings = from_env(RetrainSettings)
        if args.after_labels is not None and args.after_labels < 1:
            raise TrainError("--after-labels must be at least 1")
        if args.keep_candidates < 0:
            raise TrainError("--keep-candidates must be 0 or more")
        now_ms = time_ms(args.now) if args.now else None
        if scheduled and now_ms is not None:
            raise TrainError("--now runs once; it cannot be given with --every or --after-labels")
    except (ConfigError, TrainError) as exc:
        logger.error("model retrain: %s", exc)
        return 2
    client, keys = (
        redis.Redis.from_url(settings.redis_url, socket_timeout=10),
        RedisKeys(settings.redis_key_prefix),
    )
    registry = ModelRegistry(client, keys)
    window, who = Window(args.train, args.test, args.label_wait), args.by or login_name()
    if not scheduled:
        return run_once(
            settings, registry, window, args.out, who=who, now_ms=now_ms, keep=args.keep_candidates
        )
    from model.retrain_schedule import Memory, Schedule  # imports this module

    return Schedule(settings, registry, Memory(client, keys), window, args=args, who=who).run()


def run_once(
    settings: RetrainSettings, registry: ModelRegistry, window: Window, out: Path, *, who: str,
    now_ms: int | None = None, keep: int = 10,
) -> int:  # fmt: skip
    """One run; its exit code (the reason logged)."""
    try:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        retrain_once(settings, registry, window, out, now_ms=now, who=who, keep=keep)
    except (TrainError, RangeError, TopicReadError, RegistryError) as exc:
        logger.error("model retrain: %s", exc)
        return 2
    except (KafkaError, redis.RedisError) as exc:
        logger.error("model retrain: %s: %s", type(exc).__name__, exc)
        return 1
    return 0
