"""Read an alerts topic back: every record checked against the contract, copies counted per alert_id."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import redis

from common.alert_topic import ALERT_ID_HEADER, SEVERITY_HEADER, decode_alert_record
from common.alerts import Alert
from common.keys import RedisKeys
from tests.faults.kafka_io import read_topic


@dataclass
class TopicAlerts:
    """What an alerts topic holds: the first copy of each alert and how many copies each has."""

    first: dict[str, Alert] = field(default_factory=dict)
    copies: Counter[str] = field(default_factory=Counter)
    partitions: dict[str, set[int]] = field(default_factory=dict)  # alert card -> partitions seen

    @property
    def ids(self) -> set[str]:
        return set(self.first)

    @property
    def duplicates(self) -> int:
        """Records beyond the first copy of their alert (a consumer de-duplicating drops them)."""
        return sum(self.copies.values()) - len(self.copies)


def read_alerts(bootstrap: str, topic: str) -> TopicAlerts:
    """Every record of `topic`, asserting key = card id, the alert_id/severity headers and the value."""
    out = TopicAlerts()
    for rec in read_topic(bootstrap, topic, idle_ms=20_000):
        alert = decode_alert_record(rec.value)  # raises on anything but a version-1 alert
        headers = dict(rec.headers)
        where = f"{topic}[{rec.partition}]@{rec.offset}"
        assert rec.key == alert.card_id.encode(), f"{where}: key {rec.key!r} is not the card id"
        assert headers.get(ALERT_ID_HEADER) == alert.alert_id.encode(), f"{where}: alert_id header {headers}"
        assert headers.get(SEVERITY_HEADER) == alert.severity.encode(), f"{where}: severity header {headers}"
        out.copies[alert.alert_id] += 1
        out.first.setdefault(alert.alert_id, alert)
        out.partitions.setdefault(alert.card_id, set()).add(rec.partition)
    one_card_many = {c: p for c, p in out.partitions.items() if len(p) > 1}
    assert not one_card_many, f"one card's alerts on several partitions: {one_card_many}"
    return out


def redis_alert_ids(client: redis.Redis, prefix: str) -> set[str]:
    """The ids of every alert stored under `prefix` (its alert index)."""
    raw: list[bytes] = client.zrange(RedisKeys(prefix).alert_index, 0, -1)  # type: ignore[assignment]
    return {x.decode() for x in raw}
