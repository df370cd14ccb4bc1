"""`python -m infra.services up|down|status`: the local Kafka + Redis pair behind `make services`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra import kafka_local, kafka_topics, redis_local
from infra.procs import InfraError

logger = logging.getLogger("infra.services")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LocalStack:
    """The pair of local services and the topics they should hold."""

    kafka: kafka_local.KafkaConfig
    redis: redis_local.RedisConfig
    topic: str
    dlq_topic: str
    partitions: int
    alerts_topic: str = "alerts"
    alert_events_topic: str = "alert-events"
    labels_topic: str = "labels"

    def topics(self) -> dict[str, int]:
        """Every topic the stack holds, with its partition count (alerts keyed by card like the
        transactions; workflow events in one ordered log)."""
        return {
            self.topic: self.partitions,
            self.dlq_topic: 1,
            self.alerts_topic: self.partitions,
            self.alert_events_topic: 1,
            self.labels_topic: self.partitions,  # keyed by card like the transactions (docs/labels.md)
        }

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        state_dir: Path | None = None,
        appendonly: bool | None = None,
    ) -> LocalStack:
        e = os.environ if env is None else env
        state = state_dir or Path(e.get("LOCAL_STATE_DIR", REPO_ROOT / ".local" / "run"))
        aof = appendonly if appendonly is not None else e.get("REDIS_APPENDONLY", "yes") != "no"
        try:
            return cls(
                kafka=kafka_local.KafkaConfig(
                    state_dir=state / "kafka",
                    port=int(e.get("KAFKA_PORT", "9092")),
                    controller_port=int(e.get("KAFKA_CONTROLLER_PORT", "9093")),
                ),
                redis=redis_local.RedisConfig(
                    state_dir=state / "redis", port=int(e.get("REDIS_PORT", "6379")), appendonly=aof
                ),
                topic=e.get("KAFKA_TOPIC", "transactions"),
                dlq_topic=e.get("KAFKA_DLQ_TOPIC", "transactions.dlq"),
                partitions=int(e.get("KAFKA_TOPIC_PARTITIONS", "3")),
                alerts_topic=e.get("KAFKA_ALERTS_TOPIC", "alerts"),
                alert_events_topic=e.get("KAFKA_ALERT_EVENTS_TOPIC", "alert-events"),
                labels_topic=e.get("KAFKA_LABELS_TOPIC", "labels"),
            )
        except ValueError as exc:
            raise InfraError(f"bad port or partition count in the environment: {exc}") from None

    def up(self) -> dict[str, float]:
        """Start both services (idempotent), create topics; return start-up timings in seconds."""
        timings: dict[str, float] = {}
        started_redis = False
        t0 = time.monotonic()
        try:
            started_redis = redis_local.start(self.redis)
            timings["redis_s"] = time.monotonic() - t0
            t1 = time.monotonic()
            kafka_local.start(self.kafka)
            timings["kafka_s"] = time.monotonic() - t1
            kafka_topics.ensure_topics(self.kafka.bootstrap, self.topics())
            kafka_topics.wait_serving(self.kafka.bootstrap, list(self.topics()))
        except BaseException:
            # Never leave half a stack behind: undo what this call started.
            if started_redis:
                redis_local.stop(self.redis)
            raise
        return timings

    def attach(self, bootstrap: str, redis_url: str) -> None:
        """Use a Kafka and Redis run by someone else: wait until both answer, create the topics.

        Starts and stops nothing (`make run` with KAFKA_BOOTSTRAP_SERVERS and REDIS_URL set).
        """
        redis_local.wait_ready(redis_url, timeout_s=20)
        kafka_local.wait_ready(bootstrap, timeout_s=60)
        kafka_topics.ensure_topics(bootstrap, self.topics())
        kafka_topics.wait_serving(bootstrap, list(self.topics()))

    def down(self) -> list[str]:
        """Stop both; return the names of those that were running."""
        stopped = []
        if kafka_local.stop(self.kafka):
            stopped.append("kafka")
        if redis_local.stop(self.redis):
            stopped.append("redis")
        return stopped

    def status(self) -> dict[str, bool]:
        return {"kafka": kafka_local.is_running(self.kafka), "redis": redis_local.is_running(self.redis)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.services", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python is chatty at INFO
    try:
        stack = LocalStack.from_env()
        if args.action == "up":
            timings = stack.up()
            rss = kafka_local.rss_mb(stack.kafka)
            logger.info(
                "services: up kafka=%s redis=%s kafka_ready_s=%.1f kafka_rss_mb=%s",
                stack.kafka.bootstrap,
                stack.redis.url,
                timings.get("kafka_s", 0.0),
                f"{rss:.0f}" if rss else "?",
            )
        elif args.action == "down":
            stopped = stack.down()
            logger.info("services: stopped %s", ", ".join(stopped) if stopped else "nothing (none running)")
        else:
            for name, running in stack.status().items():
                logger.info("services: %s %s", name, "running" if running else "stopped")
    except InfraError as exc:
        logger.error("services: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
