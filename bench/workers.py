"""`python -m bench.workers KIND ...`: measured loops run in their own process; print JSON samples.

Each worker prints one JSON object: {"samples": [[epoch_s, cumulative_count], ...], ...}, so the
harness computes rates the same way for every contender.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from typing import Any


def _bridge_consumer(topic: str, group: str) -> Any:
    """A consumer built by the bridge's own factory, so its settings are exactly the bridge's."""
    from bridge.config import load_settings
    from bridge.kafka_io import make_consumer

    settings = load_settings(kafka_topic=topic, group_id=group)
    consumer = make_consumer(settings)
    consumer.subscribe([topic])
    return consumer, settings


def raw_consumer(topic: str, group: str, count: int, timeout_s: float) -> dict[str, Any]:
    """The limit: poll and discard with the bridge's consumer settings."""
    consumer, settings = _bridge_consumer(topic, group)
    samples: list[tuple[float, int]] = []
    seen, deadline = 0, time.monotonic() + timeout_s
    try:
        while seen < count and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=settings.poll_timeout_ms, max_records=settings.batch_max)
            n = sum(len(recs) for recs in polled.values())
            if n:
                seen += n
                samples.append((time.time(), seen))
    finally:
        consumer.close(autocommit=False)
    return {"samples": samples}


def naive_consumer(
    topic: str, group: str, count: int, timeout_s: float, redis_url: str, key: str
) -> dict[str, Any]:
    """The original demo's style: per event one json.loads and one Redis round trip, no batching."""
    import redis

    consumer, settings = _bridge_consumer(topic, group)
    client = redis.Redis.from_url(redis_url)
    samples: list[tuple[float, int]] = []
    seen, deadline = 0, time.monotonic() + timeout_s
    try:
        while seen < count and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=settings.poll_timeout_ms, max_records=settings.batch_max)
            for recs in polled.values():
                for rec in recs:
                    event = json.loads(rec.value)
                    client.lpush(key, json.dumps(event))  # one command per event, as the demo did
                    seen += 1
                    if seen % 200 == 0 or seen >= count:
                        samples.append((time.time(), seen))
                    if seen >= count:
                        break
                if seen >= count:
                    break
    finally:
        consumer.close(autocommit=False)
        client.close()
    return {"samples": samples}


def _events(count: int, seed: int) -> list[Any]:
    from producer import generate

    return generate(seed=seed, count=count)


def raw_send(topic: str, count: int, seed: int, bootstrap: str, partitioned: bool = False) -> dict[str, Any]:
    """The producer limit: send() pre-serialised records with the producer CLI's client config.

    `partitioned` passes each record's partition, memoised per key exactly as the CLI loop does,
    so the two loops differ only by generating the events: the producer's own overhead.
    """
    from bench.producer_api import make_cli_producer
    from producer.kafka_io import KeyPartitions
    from producer.runner import settle_heap

    events = _events(count, seed)  # generated before the clock starts
    prod = make_cli_producer(bootstrap)
    send, memo = prod.send, KeyPartitions(prod, topic)
    settle_heap()  # the same GC treatment as the CLI loop gets
    t0, c0 = time.time(), time.process_time()
    if partitioned:
        memo.refresh()
        for ev in events:
            send(topic, ev.value, ev.key, ev.headers, memo[ev.key])
    else:
        for ev in events:
            send(topic, value=ev.value, key=ev.key, headers=ev.headers)
    prod.flush()
    t1, c1 = time.time(), time.process_time()
    prod.close()
    return {"samples": [(t0, 0), (t1, count)], "loop_cpu_s": c1 - c0}


def library_send(topic: str, count: int, seed: int, bootstrap: str) -> dict[str, Any]:
    """The `python -m producer --rate 0` path: generate and send in the producer's own loop."""
    from bench.producer_api import run_cli_loop

    t0, t1, cpu_s = run_cli_loop(topic, count, seed, bootstrap)
    return {"samples": [(t0, 0), (t1, count)], "loop_cpu_s": cpu_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers")
    parser.add_argument(
        "kind", choices=["raw-consumer", "naive", "raw-send", "raw-send-partitioned", "library-send"]
    )
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--group", default="")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--key", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.kind == "raw-consumer":
        out = raw_consumer(args.topic, args.group, args.count, args.timeout)
    elif args.kind == "naive":
        out = naive_consumer(args.topic, args.group, args.count, args.timeout, args.redis_url, args.key)
    elif args.kind in {"raw-send", "raw-send-partitioned"}:
        out = raw_send(args.topic, args.count, args.seed, args.bootstrap, args.kind == "raw-send-partitioned")
    else:
        out = library_send(args.topic, args.count, args.seed, args.bootstrap)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = usage.ru_utime + usage.ru_stime  # whole process, start-up included, like the bridge's
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
