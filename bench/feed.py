"""Test data: the producer's seeded stream written once to a bench topic (not a measured step)."""

from __future__ import annotations

import logging
import time

from bench.stack import Context

logger = logging.getLogger(__name__)
CHUNK = 20_000


def make_producer(bootstrap: str, **overrides: object) -> object:
    """A throughput-oriented producer for loading data (the measured producers are elsewhere)."""
    from kafka import KafkaProducer

    conf: dict[str, object] = {"linger_ms": 20, "batch_size": 256 * 1024, "max_request_size": 8 << 20}
    conf.update(overrides)
    return KafkaProducer(bootstrap_servers=bootstrap, **conf)


def produce(ctx: Context, topic: str, count: int, seed: int = 7, n_cards: int | None = None) -> float:
    """Write `count` generated events (default scenario mix) to `topic`; return seconds taken."""
    from producer import Generator, World
    from producer.world import DEFAULT_CARDS

    t0 = time.monotonic()
    world = World.build(seed, n_cards or DEFAULT_CARDS)
    gen = Generator(world, seed)
    prod = make_producer(ctx.bootstrap)
    done = 0
    try:
        while done < count:
            for ev in gen.take(min(CHUNK, count - done)):
                prod.send(topic, value=ev.value, key=ev.key, headers=ev.headers)  # type: ignore[attr-defined]
            done = min(count, done + CHUNK)
        prod.flush(timeout=ctx.sizes.timeout_s)  # type: ignore[attr-defined]
    finally:
        prod.close(timeout=10)  # type: ignore[attr-defined]
    took = time.monotonic() - t0
    logger.info("bench: loaded topic=%s events=%d cards=%s s=%.1f", topic, count, n_cards, took)
    return took


def dataset(ctx: Context, name: str, count: int, n_cards: int | None = None) -> str:
    """A topic holding `count` events, produced once per run and shared by the sections."""
    key = f"dataset:{name}:{count}:{n_cards}"
    if key not in ctx.cache:
        topic = ctx.new_topic(name)
        produce(ctx, topic, count, n_cards=n_cards)
        ctx.cache[key] = topic
    return str(ctx.cache[key])
