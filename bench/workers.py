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

FIRST_RECORD_STALL_S = 20.0  # a fresh group's join takes a few seconds; 20 s without a record is a stall


def _bridge_consumer(topic: str, group: str) -> Any:
    """A consumer built by the bridge's own factory, so its settings are exactly the bridge's."""
    from bridge.config import load_settings
    from bridge.kafka_io import make_consumer

    settings = load_settings(kafka_topic=topic, group_id=group)
    consumer = make_consumer(settings)
    consumer.subscribe([topic])
    return consumer, settings


class _Feed:
    """The bridge's consumer, replaced if it never gets its first record.

    kafka-python 3.0 can spin for good looking up a new group's coordinator (seen in a bench run:
    5 minutes at 100 % CPU). The bridge replaces a consumer whose join stalls; the measured loops
    here do the same before their first record. Later, a fresh consumer would re-read from the
    start, so a stall then is measured as it is.
    """

    def __init__(self, topic: str, group: str, stall_s: float = FIRST_RECORD_STALL_S) -> None:
        self.topic, self.group, self.stall_s = topic, group, stall_s
        self.consumer, self.settings = _bridge_consumer(topic, group)
        self.got_any, self._since = False, time.monotonic()

    def poll(self) -> dict[Any, list[Any]]:
        polled: dict[Any, list[Any]] = self.consumer.poll(
            timeout_ms=self.settings.poll_timeout_ms, max_records=self.settings.batch_max
        )
        if polled:
            self.got_any = True
        elif not self.got_any and time.monotonic() - self._since > self.stall_s:
            logging.warning("bench: no record after %.0fs, replacing the consumer", self.stall_s)
            self.close()
            self.consumer, self.settings = _bridge_consumer(self.topic, self.group)
            self._since = time.monotonic()
        return polled

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def raw_consumer(topic: str, group: str, count: int, timeout_s: float) -> dict[str, Any]:
    """The limit: poll and discard with the bridge's consumer settings."""
    feed = _Feed(topic, group)
    samples: list[tuple[float, int]] = []
    seen, deadline = 0, time.monotonic() + timeout_s
    try:
        while seen < count and time.monotonic() < deadline:
            n = sum(len(recs) for recs in feed.poll().values())
            if n:
                seen += n
                samples.append((time.time(), seen))
    finally:
        feed.close()
    return {"samples": samples}


def merchant_tail(topic: str, count: int, timeout_s: float, bootstrap: str) -> dict[str, Any]:
    """A serving bridge's merchant tail alone (bridge/model_tail.py): it follows every partition
    from the start and adds each event to a native feature history without scoring it, as a bridge
    does with the partitions the other bridges consume."""
    from kafka import KafkaConsumer

    from bridge.model_coverage import Coverage
    from bridge.model_tail import MerchantTail
    from bridge.model_tail_reader import TailReader
    from common.rules import default_rules
    from model.features import FeatureConfig
    from model.serving import OnlineScorer

    meta = KafkaConsumer(bootstrap_servers=bootstrap)
    partitions = meta.partitions_for_topic(topic) or set()
    meta.close()
    rates = default_rules().currency
    tail = MerchantTail(lambda: TailReader.connect(bootstrap, topic, rates), Coverage(), partitions)
    scorer = OnlineScorer(FeatureConfig(), max_events=10 * count + 1_000_000)
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout_s
    tail.start(owned=())
    try:
        while tail.added < count and time.monotonic() < deadline:
            if tail.apply(scorer):  # the bridge applies it at each housekeeping, about as often
                samples.append((time.time(), tail.added))
            else:
                time.sleep(0.005)
    finally:
        tail.reader.stop()
    return {"samples": samples, "remembered": scorer.tailed}


def naive_consumer(
    topic: str, group: str, count: int, timeout_s: float, redis_url: str, key: str
) -> dict[str, Any]:
    """The original demo's style: per event one json.loads and one Redis round trip, no batching."""
    import redis

    feed = _Feed(topic, group)
    client = redis.Redis.from_url(redis_url)
    samples: list[tuple[float, int]] = []
    seen, deadline = 0, time.monotonic() + timeout_s
    try:
        while seen < count and time.monotonic() < deadline:
            for recs in feed.poll().values():
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
        feed.close()
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
        "kind",
        choices=[
            "raw-consumer",
            "merchant-tail",
            "naive",
            "raw-send",
            "raw-send-partitioned",
            "library-send",
        ],
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
    elif args.kind == "merchant-tail":
        out = merchant_tail(args.topic, args.count, args.timeout, args.bootstrap)
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
