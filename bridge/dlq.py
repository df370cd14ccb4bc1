"""Dead-letter output: forward rejected records, original bytes intact, and confirm before commit."""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

logger = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


class DlqUnavailable(Exception):
    """Dead letters could not be confirmed by Kafka; the batch must not be committed."""


def dlq_headers(original: Headers | None, reason: str, topic: str, partition: int, offset: int) -> Headers:
    """The original headers plus where the record came from and why it was rejected."""
    return [
        *(original or []),
        ("dlq_reason", reason.encode("utf-8", errors="replace")),
        ("dlq_source_topic", topic.encode()),
        ("dlq_source_partition", str(partition).encode()),
        ("dlq_source_offset", str(offset).encode()),
    ]


class DeadLetterWriter:
    """Sends dead letters asynchronously; `confirm()` blocks until Kafka acknowledged all of them."""

    def __init__(self, producer: KafkaProducer, topic: str, timeout_s: float = 10.0) -> None:
        self._producer, self._topic, self._timeout = producer, topic, timeout_s
        self._pending: list[tuple[Any, bytes | None, bytes | None, Headers]] = []

    def send(self, value: bytes | None, key: bytes | None, headers: Headers) -> None:
        """Queue one dead letter (value and key exactly as consumed)."""
        try:
            future = self._producer.send(self._topic, value=value, key=key, headers=headers)
        except KafkaError as exc:
            raise DlqUnavailable(str(exc)) from exc
        self._pending.append((future, value, key, headers))

    def confirm(self) -> int:
        """Flush and check every queued send; raise DlqUnavailable if any is not acknowledged."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, []
        try:
            self._producer.flush(timeout=self._timeout)
        except KafkaError as exc:
            raise DlqUnavailable(f"flush: {exc}") from exc
        retry: list[tuple[bytes | None, bytes | None, Headers]] = []
        for future, value, key, headers in pending:
            if future.succeeded():
                continue
            if isinstance(future.exception, MessageSizeTooLargeError) and value is not None:
                # The DLQ topic refuses the size: keep a truncated copy rather than stall forever.
                retry.append((value[:65_536], key, [*headers, ("dlq_truncated", b"1")]))
                continue
            raise DlqUnavailable(f"send: {future.exception!r}")
        for value, key, headers in retry:
            self.send(value, key, headers)
        if retry:
            logger.warning("bridge: dead letters truncated to fit the DLQ topic count=%d", len(retry))
            return len(pending) - len(retry) + self.confirm()
        return len(pending)

    def discard(self) -> None:
        """Forget unconfirmed sends (the batch is being retried; duplicates may reach the DLQ)."""
        self._pending.clear()
