"""The notifier's replays: dead letters an admin queued again, handed to the senders like new events."""

from __future__ import annotations

import logging
import threading
from functools import partial

import redis

from common.webhook_replay import ReplayClaims
from notifier.events import event_from_dict
from notifier.sender import Dispatcher, Job

logger = logging.getLogger(__name__)


class Replays:
    """Claims queued replays each refresh period and acknowledges each one when its delivery ends."""

    def __init__(self, claims: ReplayClaims, dispatcher: Dispatcher) -> None:
        self._claims, self._dispatcher = claims, dispatcher
        self._in_flight: set[str] = set()  # claimed here and not finished: never submitted twice
        self._lock = threading.Lock()  # senders finish on their own threads

    def poll(self) -> int:
        """Submit the replays claimed now; return how many."""
        submitted = 0
        for entry_id, letter in self._claims.claim():
            with self._lock:
                if entry_id in self._in_flight:
                    continue
            try:
                if letter is None:
                    raise ValueError("unreadable entry")
                event, endpoint_id = event_from_dict(letter.get("event")), str(letter["endpoint_id"])
            except (KeyError, ValueError) as exc:  # nothing to deliver: say so and drop it from the queue
                logger.warning("notifier: replay dropped entry=%s error=%s", entry_id, exc)
                self._claims.ack(entry_id)
                continue
            with self._lock:
                self._in_flight.add(entry_id)
            self._dispatcher.submit(Job(endpoint_id, event, partial(self._done, entry_id), replay=True))
            submitted += 1
        if submitted:
            logger.info("notifier: replaying dead letters count=%d", submitted)
        return submitted

    def _done(self, entry_id: str) -> None:
        try:
            self._claims.ack(entry_id)
        except redis.RedisError as exc:  # stays pending: taken back after a restart (receivers dedupe)
            logger.warning("notifier: replay not acknowledged entry=%s error=%s", entry_id, exc)
            return
        with self._lock:
            self._in_flight.discard(entry_id)
