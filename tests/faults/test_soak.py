"""Soak (make soak only): 30 min at 2,000 events/s through producer CLI + bridge; no errors, flat memory.

SOAK_MINUTES / SOAK_RATE shorten or lengthen it (defaults 30 and 2000). The dashboard part (100
analysts polling) is a hook: SOAK_DASHBOARD_HOOK="module:function" (default
`tests.faults.dashboard_load:run_analysts`, the real dashboard under gunicorn polled by the
benchmark's load generator); it is called as
`fn(redis_url=..., prefix=..., analysts=100, stop=threading.Event)` in a thread, polls the
dashboard until `stop` is set, and raises on any failed poll or dashboard memory growth > 10%.
"""

from __future__ import annotations

import importlib
import logging
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from common.keys import RedisKeys
from tests.conftest import unique
from tests.faults.flow import wait_caught_up
from tests.faults.harness import Background, BridgeFactory, BridgeProc, hget_int
from tests.faults.kafka_io import end_offsets

pytestmark = [pytest.mark.integration, pytest.mark.soak]
logger = logging.getLogger(__name__)

SAMPLE_EVERY_S = 10.0
MAX_GROWTH = 0.10  # bridge RSS after warm-up may grow at most 10 %
# The load generator runs in 120 s windows and finishes the one under way after `stop`.
ANALYSTS_GRACE_S = 420.0
RSS_CSV = Path(__file__).resolve().parents[2] / "bench" / "out" / "soak-rss.csv"  # gitignored


def dashboard_hook() -> Callable[..., Any] | None:
    """The optional dashboard-load function named by SOAK_DASHBOARD_HOOK, or None if absent."""
    spec = os.environ.get("SOAK_DASHBOARD_HOOK", "tests.faults.dashboard_load:run_analysts")
    module, _, name = spec.partition(":")
    try:
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        logger.warning("soak: no dashboard load hook %s; running producer + bridge only", spec)
        return None
    return fn


def own_errors(proc: BridgeProc) -> list[str]:
    """ERROR lines logged by our own code (kafka-python's reconnect chatter excluded) and tracebacks."""
    text = proc.log_path.read_text(errors="replace").splitlines()
    return [line for line in text if "Traceback" in line or (" ERROR " in line and " kafka." not in line)]


def growth(samples: list[tuple[float, int]], warmup_s: float) -> tuple[float, int, int]:
    """(relative growth, baseline kB, final kB): median of the first and last 2 min after warm-up."""
    t0 = samples[0][0]
    steady = [rss for t, rss in samples if t - t0 >= warmup_s]
    assert len(steady) >= 4, f"too few samples after warm-up: {len(steady)}"
    window = max(2, min(int(120 / SAMPLE_EVERY_S), len(steady) // 4))
    base, last = int(statistics.median(steady[:window])), int(statistics.median(steady[-window:]))
    return (last - base) / base, base, last


def write_samples(samples: list[tuple[float, int]]) -> None:
    """Keep the RSS curve for a look afterwards (seconds since the first sample, kB)."""
    RSS_CSV.parent.mkdir(parents=True, exist_ok=True)
    t0 = samples[0][0] if samples else 0.0
    RSS_CSV.write_text("t_s,rss_kb\n" + "".join(f"{t - t0:.0f},{kb}\n" for t, kb in samples))


def _soak_timeout_s() -> float:
    """pytest-timeout for the soak: its duration plus time to start, catch up and compare."""
    return float(os.environ.get("SOAK_MINUTES", "30")) * 60 + 1200


@pytest.mark.timeout(_soak_timeout_s())
def test_soak_producer_and_bridge(
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    redis_client: redis.Redis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
) -> None:
    minutes, rate = float(os.environ.get("SOAK_MINUTES", "30")), int(os.environ.get("SOAK_RATE", "2000"))
    count, warmup_s = int(minutes * 60 * rate), min(300.0, minutes * 60 / 6)
    prefix = prefix_factory(redis_url, "soak")
    keys = RedisKeys(prefix)
    bridge = (
        bridge_factory(
            "soak",
            bootstrap=kafka_bootstrap,
            topic=topic,
            redis_url=redis_url,
            prefix=prefix,
            group=unique("g-soak"),
        )
        .start()
        .wait_assigned()
    )
    cli = ["--rate", str(rate), "--count", str(count), "--seed", "7", "--bootstrap-servers", kafka_bootstrap]
    sender = bridge_factory.producer("soak", [*cli, "--topic", topic]).start()
    stop, hook = threading.Event(), dashboard_hook()
    analysts = None
    if hook is not None:
        analysts = Background(
            lambda: hook(redis_url=redis_url, prefix=prefix, analysts=100, stop=stop),
            name="dashboard-analysts",
        )
        analysts.start()
    samples: list[tuple[float, int]] = []
    try:
        while sender.alive():
            assert bridge.alive(), f"bridge died during the soak\n{bridge.log()}"
            samples.append((time.monotonic(), bridge.rss_kb()))
            time.sleep(SAMPLE_EVERY_S)
    finally:
        stop.set()
        write_samples(samples)
    assert sender.wait(30) == 0, f"producer failed\n{sender.log()}"
    if analysts is not None:
        analysts.result(ANALYSTS_GRACE_S)
    wait_caught_up(redis_client, keys.offsets(topic), end_offsets(kafka_bootstrap, topic), 600, [bridge])
    pid = bridge.pid
    assert bridge.terminate() == 0, f"bridge did not exit 0 on SIGTERM\n{bridge.log()}"
    rel, base, last = growth(samples, warmup_s)
    applied = hget_int(redis_client, keys.totals, "txns")
    logger.warning(
        "soak: minutes=%s rate=%d events=%d applied=%d pid=%d rss_kb base=%d last=%d growth=%.1f%%",
        minutes,
        rate,
        count,
        applied,
        pid,
        base,
        last,
        rel * 100,
    )
    assert applied == count, f"applied {applied} of {count} events"
    assert not own_errors(bridge), "bridge logged errors:\n" + "\n".join(own_errors(bridge)[:20])
    assert rel < MAX_GROWTH, f"bridge RSS grew {rel:.1%} after warm-up ({base} kB -> {last} kB)"


@pytest.fixture(autouse=True)
def _drop_big_topic(kafka_bootstrap: str, topic: str) -> Iterator[None]:
    """The soak topic holds ~1 GB: delete it afterwards so the shared broker's disk stays small."""
    yield
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()
