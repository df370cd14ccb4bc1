"""What the generator emits: planned transactions and ready-to-send records with ground truth."""

from __future__ import annotations

from typing import NamedTuple

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


class GeneratedEvent:
    """A record ready for Kafka: value (schema-v1 JSON), key (card id) and ground-truth headers.

    `event` decodes `value` on first access, so the hot path never builds datetimes and the
    decoded Transaction is by construction exactly what a consumer will see.
    """

    __slots__ = ("_event", "card_id", "headers", "key", "scenario", "scenario_id", "ts_ms", "value")

    def __init__(  # noqa: PLR0917 - built only by the generator, positionally for speed
        self,
        value: bytes,
        key: bytes,
        headers: list[tuple[str, bytes]],
        scenario: str,
        scenario_id: str | None,
        ts_ms: int,
        card_id: str,
    ) -> None:
        self.value = value
        self.key = key
        self.headers = headers
        self.scenario = scenario
        self.scenario_id = scenario_id
        self.ts_ms = ts_ms
        self.card_id = card_id
        self._event: Transaction | None = None

    @property
    def event(self) -> Transaction:
        """The decoded, validated schema-v1 transaction."""
        if self._event is None:
            self._event = decode_event(self.value)
        return self._event

    @property
    def is_fraud(self) -> bool:
        """Whether this event belongs to an injected fraud instance."""
        return self.scenario_id is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GeneratedEvent):
            return NotImplemented
        return (self.value, self.key, self.headers) == (other.value, other.key, other.headers)

    def __hash__(self) -> int:
        return hash((self.value, self.key))

    def __repr__(self) -> str:
        return f"GeneratedEvent(scenario={self.scenario!r}, key={self.key!r}, value={self.value!r})"
