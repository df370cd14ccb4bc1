"""Command line: `python -m producer [options]` streams events; `python -m producer inject <scenario>`."""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType

from kafka import KafkaProducer
from kafka.errors import KafkaError

from common.settings import ConfigError, from_env
from producer import whereabouts
from producer.config import ProducerSettings
from producer.generator import Generator, instance_events, to_ms
from producer.kafka_io import (
    FLUSH_TIMEOUT_S,
    DeliveryErrors,
    DeliveryFailed,
    KafkaUnavailable,
    TopicMissing,
    check_topic,
    make_producer,
    send_events,
)
from producer.labels import DelayedLabels, LabelSender
from producer.runner import describe, run, settle_heap
from producer.scenarios import SCENARIOS, make_instance, parse_scenarios
from producer.world import World

logger = logging.getLogger("producer")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers",
        dest="kafka_bootstrap_servers",
        help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument("--topic", dest="kafka_topic", help="topic (env KAFKA_TOPIC)")
    parser.add_argument("--seed", type=int, help="random seed (default: random, logged)")
    parser.add_argument("--cards", type=int, help="number of cards (env PRODUCER_CARDS, default 5000)")
    parser.add_argument(
        "--world-seed",
        type=int,
        help="seed of the card population, kept across runs (env PRODUCER_WORLD_SEED, default 0)",
    )
    parser.add_argument("--bootstrap-timeout-ms", type=int, help="give up connecting after this long")
    parser.add_argument("--log-level", default="INFO")


def stream_parser() -> argparse.ArgumentParser:
    """Flags of the streaming command."""
    p = argparse.ArgumentParser(
        prog="python -m producer",
        description=__doc__,
        epilog="`python -m producer inject --help` injects one fraud instance.",
    )
    p.add_argument("--rate", type=float, help="events/s sent (0 = as fast as possible; env PRODUCER_RATE)")
    p.add_argument("--count", type=int, help="events to send (0 = forever; env PRODUCER_COUNT)")
    p.add_argument("--fraud-ratio", type=float, help="share of events in fraud instances (default 0.02)")
    p.add_argument(
        "--scenarios",
        help=f"subset and weights, e.g. high_amount=2,velocity_burst=1; "
        f"names: {', '.join(SCENARIOS)} (env PRODUCER_SCENARIOS)",
    )
    p.add_argument("--sim-rate", type=float, help="simulated events/s of event time (default 20)")
    p.add_argument("--start", help="ISO-8601 anchor of event time (default: now)")
    p.add_argument("--verbose", action="store_true", help="log every event")
    p.add_argument(
        "--state-file", help="keep where each card is across runs in this file (env PRODUCER_STATE_FILE)"
    )
    p.add_argument(
        "--labels", action="store_const", const=True, help="send delayed labels (env PRODUCER_LABELS)"
    )
    p.add_argument(
        "--labels-delay",
        type=float,
        dest="labels_delay_s",
        help="event-time delay of the labels in seconds (default 604800 = 7 days); implies --labels",
    )
    p.add_argument(
        "--labels-legitimate",
        action="store_const",
        const=True,
        help="also label every non-fraud event legitimate (env PRODUCER_LABELS_LEGITIMATE)",
    )
    p.add_argument("--labels-topic", dest="kafka_labels_topic", help="labels topic (env KAFKA_LABELS_TOPIC)")
    _common(p)
    return p


def inject_parser() -> argparse.ArgumentParser:
    """Flags of `inject`."""
    p = argparse.ArgumentParser(prog="python -m producer inject", description="Send one fraud instance now.")
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("--card", help="card id, e.g. C0000042 (default: a random card)")
    _common(p)
    return p


def _settings(args: argparse.Namespace) -> ProducerSettings:
    known = {f for f in ProducerSettings.__dataclass_fields__}
    given = {k: v for k, v in vars(args).items() if k in known}
    if given.get("labels_delay_s") is not None:
        given["labels"] = True  # --labels-delay alone asks for labels
    return from_env(ProducerSettings, **given)


def _label_sender(s: ProducerSettings, producer: KafkaProducer, errors: DeliveryErrors) -> LabelSender | None:
    """The delayed-label sender when labels are on (checks the labels topic exists first)."""
    if not s.labels:
        return None
    check_topic(producer, s.kafka_labels_topic)
    pending = DelayedLabels(
        round(s.labels_delay_s * 1000), legitimate=s.labels_legitimate, max_pending=s.labels_max_pending
    )
    return LabelSender(producer, s.kafka_labels_topic, pending, errors)


def _connect(s: ProducerSettings) -> KafkaProducer:
    extra = {"compression_type": s.compression} if s.compression else {}
    # max_block_ms bounds waiting for topic metadata too, so a missing topic fails as fast as no broker.
    return make_producer(
        s.kafka_bootstrap_servers,
        s.bootstrap_timeout_ms,
        linger_ms=s.linger_ms,
        batch_size=s.batch_size,
        max_block_ms=max(s.bootstrap_timeout_ms, 1_000),
        **extra,
    )


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM/SIGINT set `stop` (the loop ends, flushes, exits 0); a second signal exits hard."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("producer: stopping signal=%s (again to abort)", signal.Signals(signum).name)
        stop.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def stream(args: argparse.Namespace) -> int:
    """Stream generated events until --count or a signal; return the exit code."""
    s = _settings(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    start_ms = to_ms(args.start) if args.start else int(time.time() * 1000)
    world = World.build(s.world_seed, s.cards)
    state_file = Path(s.state_file) if s.state_file else None
    saved = whereabouts.load(state_file, s.world_seed, world) if state_file else None
    if saved is not None and not args.start:
        start_ms = max(start_ms, saved.clock_ms + 1)  # event time ran ahead (rate > sim rate): go on from it
    gen = Generator(world, seed, s.fraud_ratio, parse_scenarios(s.scenarios), start_ms, s.sim_rate)
    if saved is not None:
        whereabouts.apply(saved, gen.normal)
        logger.info("producer: cards resume where the last run left them path=%s", state_file)
    logger.info(
        "producer: starting seed=%d world_seed=%d start_ms=%d rate=%s count=%d fraud_ratio=%s sim_rate=%s "
        "topic=%s bootstrap=%s",
        seed,
        s.world_seed,
        start_ms,
        s.rate,
        s.count,
        s.fraud_ratio,
        s.sim_rate,
        s.kafka_topic,
        s.kafka_bootstrap_servers,
    )
    stop = threading.Event()
    install_stop_handlers(stop)
    producer = _connect(s)
    errors = DeliveryErrors()
    try:
        check_topic(producer, s.kafka_topic)
        labels = _label_sender(s, producer, errors)
        settle_heap()
        stats = run(
            producer,
            s.kafka_topic,
            gen,
            rate=s.rate,
            count=s.count,
            stop=stop,
            errors=errors,
            verbose=args.verbose,
            labels=labels,
        )
        if labels is not None:  # not yet due: their chargebacks have not "arrived" in event time
            logger.info(
                "producer: labels sent=%d pending_unsent=%d dropped=%d",
                labels.sent,
                len(labels.pending),
                labels.pending.dropped,
            )
        if state_file is not None:  # before the flush, which may outlast the stop grace period
            try:
                whereabouts.save(state_file, s.world_seed, gen.clock_ms, gen.normal)
            except OSError as exc:  # a lost file only costs the next run's continuity
                logger.warning("producer: whereabouts not saved path=%s error=%s", state_file, exc)
        producer.flush(timeout=FLUSH_TIMEOUT_S)
    finally:
        producer.close(timeout=10)
    logger.info(
        "producer: done sent=%d rate=%.1f/s fraud=%s failed=%d",
        stats.sent,
        stats.rate(),
        dict(sorted(stats.fraud.items())),
        errors.count,
    )
    return 1 if errors.count else 0


def inject(args: argparse.Namespace) -> int:
    """Send one instance of a scenario now (event time = wall clock)."""
    s = _settings(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    world = World.build(s.world_seed, s.cards)  # the running producer's cards, homes and spending
    rng = random.Random(seed)
    card = world.card_index(args.card) if args.card else rng.randrange(len(world.cards))
    inst = make_instance(args.scenario, world, rng, card, int(time.time() * 1000))
    # Everything is sent at once, so shift the instance to end now: no event time in the future.
    span = inst.events[-1].ts_ms - inst.events[0].ts_ms
    inst = replace(inst, events=tuple(p._replace(ts_ms=p.ts_ms - span) for p in inst.events))
    events = instance_events(world, inst)
    producer = _connect(s)
    try:
        check_topic(producer, s.kafka_topic)
        send_events(producer, s.kafka_topic, events)
    finally:
        producer.close(timeout=10)
    for ev in events:
        logger.info("%s", describe(ev))
    logger.info(
        "producer: injected scenario=%s scenario_id=%s card=%s events=%d",
        inst.scenario,
        inst.scenario_id,
        world.cards[card].card_id,
        len(events),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m producer`."""
    argv = sys.argv[1:] if argv is None else argv
    is_inject = bool(argv) and argv[0] == "inject"
    args = inject_parser().parse_args(argv[1:]) if is_inject else stream_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        return inject(args) if is_inject else stream(args)
    except (KafkaUnavailable, TopicMissing, DeliveryFailed) as exc:
        logger.error("producer: kafka unavailable error=%s", exc)
        return 2
    except KafkaError as exc:
        logger.error("producer: kafka error error=%r", exc)
        return 1
    except (ConfigError, ValueError, KeyError) as exc:
        logger.error("producer: bad configuration error=%s", exc)
        return 2
