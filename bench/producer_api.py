"""The producer's own client config and send loop, as `python -m producer --rate 0` uses them."""

from __future__ import annotations

import threading
import time
from typing import Any


def make_cli_producer(bootstrap: str) -> Any:
    """The client the producer CLI builds with default settings (acks=all, idempotent, no linger)."""
    from producer.kafka_io import make_producer

    return make_producer(bootstrap)


def run_cli_loop(topic: str, count: int, seed: int, bootstrap: str) -> tuple[float, float, float]:
    """Run the CLI's generate-and-send loop at rate 0; return start and end (epoch s) and CPU seconds.

    The CPU time is the whole process's (the client's I/O thread included) from the first send to
    the end of the flush.
    """
    from producer import Generator, World
    from producer.kafka_io import DeliveryErrors
    from producer.runner import run, settle_heap
    from producer.world import DEFAULT_CARDS

    gen = Generator(World.build(seed, DEFAULT_CARDS), seed, start_ms=int(time.time() * 1000))
    prod = make_cli_producer(bootstrap)
    errors = DeliveryErrors()
    settle_heap()  # as the CLI does before its loop
    t0, c0 = time.time(), time.process_time()
    run(prod, topic, gen, rate=0, count=count, stop=threading.Event(), errors=errors)
    prod.flush()
    t1, c1 = time.time(), time.process_time()
    prod.close()
    if errors.count:
        raise RuntimeError(f"bench: {errors.count} producer sends failed")
    return t0, t1, c1 - c0
