"""Malformed input: every bad record reaches the DLQ with a reason, every good one is applied."""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest
import redis

from common.keys import RedisKeys
from tests.conftest import unique
from tests.faults.harness import BridgeFactory, hget_int
from tests.faults.kafka_io import produce, read_topic
from tests.faults.poison import FAULT_HEADER, Rec, bad_records, interleave

pytestmark = pytest.mark.integration
SOAK = [pytest.mark.soak, pytest.mark.timeout(1500)]  # long variants: make soak only
logger = logging.getLogger(__name__)

SEED = 53
SIZES = [
    pytest.param(8_000, 2_000, 4, id="8k-good-2k-bad"),
    pytest.param(40_000, 10_000, 10, id="40k-good-10k-bad", marks=SOAK),
]


def header(record: Any, name: str) -> bytes | None:
    return next((v for k, v in record.headers if k == name), None)


@pytest.mark.parametrize(("good_n", "bad_n", "big_n"), SIZES)
def test_poison_records_go_to_dlq_and_good_ones_are_applied(
    good_n: int,
    bad_n: int,
    big_n: int,
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    dlq_topic: str,
    redis_client: redis.Redis,
    bridge_factory: BridgeFactory,
    prefix_factory: Callable[[str, str], str],
    seeded_events: Callable[[int, int], Any],
) -> None:
    rng = random.Random(SEED)
    events = seeded_events(SEED, good_n)
    # 1 % of the good records have a null key: still valid events, so they must be applied.
    good = [Rec(e.value, None if i % 100 == 0 else e.key, list(e.headers)) for i, e in enumerate(events)]
    bad = bad_records([e.value for e in events[:500]], bad_n, big_n, rng)
    mixed = list(interleave(good, bad, rng))
    placed = produce(kafka_bootstrap, topic, [r for _, r in mixed])
    bad_at = {pos: rec for pos, (is_good, rec) in zip(placed, mixed, strict=True) if not is_good}
    total = len(mixed)

    prefix = prefix_factory(redis_url, "poison")
    bridge = (
        bridge_factory(
            "poison",
            bootstrap=kafka_bootstrap,
            topic=topic,
            redis_url=redis_url,
            prefix=prefix,
            group=unique("g-poison"),
            dlq_topic=dlq_topic,
            args=["--max-events", str(total)],
        )
        .start()
        .wait_assigned()
    )
    code = bridge.wait(timeout_s=240)
    assert code == 0, f"bridge exited {code} (crash?) on poison input\n{bridge.log()}"
    assert bridge.starts == 1

    letters = read_topic(kafka_bootstrap, dlq_topic)
    by_source: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for letter in letters:
        part, offset = header(letter, "dlq_source_partition"), header(letter, "dlq_source_offset")
        by_source[(int(part or -1), int(offset or -1))].append(letter)
    missing = sorted(set(bad_at) - set(by_source))
    unexpected = sorted(set(by_source) - set(bad_at))
    assert not missing, (
        f"{len(missing)} of {len(bad_at)} bad records are not in the DLQ, kinds: "
        f"{Counter(header(bad_at[m], FAULT_HEADER) for m in missing)}"
    )
    assert not unexpected, f"{len(unexpected)} good records were dead-lettered, e.g. {unexpected[:5]}"
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for src, found in by_source.items():
        first = found[0]
        reason = header(first, "dlq_reason")
        assert reason, f"dead letter from {src} has no dlq_reason header"
        assert header(first, "dlq_source_topic") == topic.encode()
        if header(first, "dlq_truncated") is None:
            assert first.value == bad_at[src].value, f"dead letter from {src} lost the original bytes"
        kind = header(first, FAULT_HEADER) or b"?"
        reasons[kind.decode()][reason.decode(errors="replace").split(":")[0][:40]] += 1

    keys = RedisKeys(prefix)
    applied, dead = hget_int(redis_client, keys.totals, "txns"), hget_int(redis_client, keys.totals, "dlq")
    raw_reasons: dict[bytes, bytes] = redis_client.hgetall(keys.dlq_reasons)  # type: ignore[assignment]
    per_reason = {k.decode(): int(v) for k, v in raw_reasons.items()}
    dupes = sum(len(v) - 1 for v in by_source.values())
    logger.warning(
        "faults: poison good=%d bad=%d applied=%d dlq_total=%d dlq_letters=%d "
        "duplicate_letters=%d reasons=%s by_kind=%s",
        len(good),
        len(bad),
        applied,
        dead,
        len(letters),
        dupes,
        per_reason,
        {k: dict(v) for k, v in sorted(reasons.items())},
    )
    assert applied == len(good), f"totals.txns={applied}, expected {len(good)} good records"
    assert dead == len(bad), f"totals.dlq={dead}, expected {len(bad)}"
    assert sum(per_reason.values()) == len(bad), f"dlq:reasons {per_reason} do not add up to {len(bad)}"
