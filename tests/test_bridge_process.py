"""`python -m bridge` as a process: SIGKILL mid-stream loses and double-counts nothing; SIGTERM exits 0."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaConsumer, TopicPartition

from common.keys import RedisKeys
from tests.conftest import REPO_ROOT, unique
from tests.streams import generated, produce, snapshot

pytestmark = pytest.mark.integration
BAD: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = [
    (b"{broken", b"k1", []),
    (None, b"k2", []),
    (b'{"txn_id": "x"}', None, []),
]


def end_offsets(bootstrap: str, topic: str) -> dict[str, str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
    finally:
        consumer.close()
    return {str(tp.partition): str(n) for tp, n in ends.items() if n}


@pytest.fixture
def spawn(
    kafka_bootstrap: str, redis_url: str, topic: str, dlq_topic: str, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(prefix: str, group: str, *args: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_TOPIC": topic,
            "KAFKA_DLQ_TOPIC": dlq_topic,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "BRIDGE_GROUP_ID": group,
            "BRIDGE_BATCH_MAX": "300",
            "BRIDGE_POLL_TIMEOUT_MS": "50",
        }
        log = open(tmp_path / f"bridge-{len(procs)}.log", "wb")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(tmp_path.glob("bridge-*.log")))


def wait_for(what: str, check: Callable[[], bool], tmp_path: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{logs(tmp_path)}"
        time.sleep(0.02)


def applied(client: redis.Redis, keys: RedisKeys, topic: str) -> int:
    return sum(int(v) for v in client.hvals(keys.offsets(topic)))


def reached(client: redis.Redis, keys: RedisKeys, topic: str, target: int) -> bool:
    return applied(client, keys, topic) >= target


def comparable(snap: dict[str, Any]) -> dict[str, Any]:
    """Amount sums are floats added in batch-sized chunks: equal to the cent, not to the last bit."""
    out = dict(snap)
    out["totals"] = {k: round(float(v), 2) if k == "amount" else v for k, v in snap["totals"].items()}
    out["seconds"] = {
        s: {k: round(float(v), 2) if k == "amount" else v for k, v in h.items()}
        for s, h in snap["seconds"].items()
    }
    return out


def describe(want: dict[str, Any], got: dict[str, Any]) -> str:
    """Name the differing entries (the full dicts are too large to read)."""
    lines = []
    for name, w in want.items():
        g = got[name]
        if w == g:
            continue
        if isinstance(w, dict):
            keys = sorted(set(w) | set(g))
            bad = [k for k in keys if w.get(k) != g.get(k)]
            lines.append(
                f"{name}: {len(bad)} of {len(keys)} differ, e.g. "
                + "; ".join(f"{k}: want={w.get(k)!r:.300} got={g.get(k)!r:.300}" for k in bad[:3])
            )
        else:
            lines.append(f"{name}: want {len(w)} got {len(g)}: {sorted(set(w) ^ set(g))[:5]}")
    return "\n".join(lines)


def test_sigkill_mid_stream_gives_the_same_state_as_an_uninterrupted_run(
    spawn: Callable[..., subprocess.Popen[bytes]],
    kafka_bootstrap: str,
    topic: str,
    redis_prefix: str,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    records = generated(8_000, seed=3)
    produce(kafka_bootstrap, topic, records[:4_000])
    produce(kafka_bootstrap, topic, BAD, partition=2)
    produce(kafka_bootstrap, topic, records[4_000:])
    total = len(records) + len(BAD)
    ends = end_offsets(kafka_bootstrap, topic)
    ref_keys, run_keys = RedisKeys(f"{redis_prefix}ref:"), RedisKeys(f"{redis_prefix}run:")

    ref = spawn(ref_keys.prefix, unique("g-ref"), "--max-events", str(total))
    rng = random.Random()
    group = unique("g-crash")
    for kill in range(3):  # kill -9 at a random point of progress, then restart in the same group
        target = rng.randint(kill * total // 4, (kill + 1) * total // 4)
        proc = spawn(run_keys.prefix, group)
        wait_for(f"progress {target}", partial(reached, redis_client, run_keys, topic, target), tmp_path)
        time.sleep(rng.random() * 0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    final = spawn(run_keys.prefix, group)
    wait_for(
        "the crash run to reach the end", lambda: applied(redis_client, run_keys, topic) >= total, tmp_path
    )
    final.send_signal(signal.SIGTERM)
    assert final.wait(30) == 0
    assert ref.wait(120) == 0, logs(tmp_path)

    want, got = snapshot(redis_client, ref_keys, topic), snapshot(redis_client, run_keys, topic)
    assert want["offsets"] == ends and int(want["totals"]["txns"]) == len(records)
    assert int(want["totals"]["dlq"]) == len(BAD) and want["alert_ids"]
    assert comparable(got) == comparable(want), describe(comparable(want), comparable(got))


def test_sigterm_finishes_and_exits_zero(
    spawn: Callable[..., subprocess.Popen[bytes]],
    kafka_bootstrap: str,
    topic: str,
    redis_prefix: str,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    keys = RedisKeys(redis_prefix)
    proc = spawn(redis_prefix, unique("g-term"), "--metrics-port", "0")
    produce(kafka_bootstrap, topic, generated(500, seed=9))
    wait_for("500 applied", lambda: applied(redis_client, keys, topic) == 500, tmp_path)
    wait_for("a heartbeat", lambda: bool(redis_client.zcard(keys.bridges)), tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, logs(tmp_path)
    assert redis_client.zcard(keys.bridges) == 0  # a clean stop removes the heartbeat
    assert int(redis_client.hget(keys.totals, "txns")) == 500  # type: ignore[arg-type]
