"""Live rules: seed the Redis rules document, poll it, and rebuild the detector when it changes."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import redis

from bridge.detection import Detector
from common.keys import RedisKeys
from common.rules import RuleValidationError, default_rules
from common.rules_doc import RulesDoc, decode_rules_doc, encode_rules_doc

logger = logging.getLogger(__name__)


def default_doc() -> RulesDoc:
    """The document seeded when Redis has none: shipped defaults, version 1, by `system`."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return RulesDoc(version=1, rules=default_rules(), updated_by="system", updated_at=now)


class RulesWatcher:
    """Holds the current Detector and its rules version; `refresh()` at most every `interval_s`."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, interval_s: float = 0.5) -> None:
        self._client, self._keys, self._interval = client, keys, interval_s
        self._raw: bytes | None = None
        self._next = 0.0
        doc = default_doc()
        self.version = doc.version
        self.detector = Detector(doc.rules)

    def seed(self) -> None:
        """Store the default document unless one exists (SET NX), then load whatever is there."""
        self._client.set(self._keys.rules, encode_rules_doc(default_doc()), nx=True)
        self._next = 0.0
        self.refresh()

    def refresh(self, now: float | None = None) -> bool:
        """Reload the rules if due and changed; return True when the detector was rebuilt."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return False
        self._next = now + self._interval
        raw = self._client.get(self._keys.rules)
        if raw is None or raw == self._raw:
            return False
        assert isinstance(raw, bytes)
        self._raw = raw
        try:
            doc = decode_rules_doc(raw)
        except RuleValidationError as exc:
            logger.error("bridge: invalid rules doc kept_version=%s error=%s", self.version, exc)
            return False
        if doc.version == self.version and doc.rules == self.detector.rules:
            return False
        self.detector = self.detector.with_rules(doc.rules)
        logger.info("bridge: rules loaded version=%s by=%s", doc.version, doc.updated_by)
        self.version = doc.version
        return True
