"""What the generator emits: planned transactions and ready-to-send records with ground truth."""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from common.schema import Transaction, decode_event

UNKNOWN = -1  # city index of an event whose location cannot be resolved (UNKNOWN_IP_ADDR)


class PlannedEvent(NamedTuple):
    """One transaction before serialisation; indexes point into the World."""

    ts_ms: int
    card: int
    amount: float
    merchant: int
    city: int  # UNKNOWN for no location
    channel: str


class GeneratedEvent(msgspec.Struct, gc=False):
    """A record ready for Kafka: value (schema-v1 JSON), key (card id) and ground-truth headers.

    A msgspec Struct because it is built once per event (C-level init, not GC-tracked). The
    Transaction is not stored: `event` decodes `value`, so it is by construction exactly what
    a consumer sees, and the hot path never builds a datetime. Do not mutate `headers`.
    """

    value: bytes
    key: bytes
    headers: list[tuple[str, bytes]]
    scenario: str
    scenario_id: str | None
    ts_ms: int
    card_id: str

    @property
    def event(self) -> Transaction:
        """The decoded, validated schema-v1 transaction (decoded on each access)."""
        return decode_event(self.value)

    @property
    def is_fraud(self) -> bool:
        """Whether this event belongs to an injected fraud instance."""
        return self.scenario_id is not None
