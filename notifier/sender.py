"""Delivery: per-endpoint sender threads, one POST per attempt, capped backoff, then a dead letter."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from common.webhook_log import CANCELLED, DEAD, DELIVERED, DONE, RETRYING, Delivery, DeliveryLog
from common.webhooks import Endpoint
from notifier.events import Event, event_dict
from notifier.payloads import backoff_s, body_for, headers_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """How hard a delivery tries."""

    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    concurrency: int


@dataclass(frozen=True)
class Job:
    """One event for one endpoint; `done` is called once it is delivered, dead or cancelled."""

    endpoint_id: str
    event: Event
    done: Callable[[], None]
    replay: bool = False  # queued again from the dead letters: attempts start over, once more


def _error_text(exc: Exception, url: str) -> str:
    """A short error without the URL (a Slack-style URL is itself a secret)."""
    return f"{type(exc).__name__}: {str(exc).replace(url, '<url>')}"[:300]


class Dispatcher:
    """Owns the sender threads: `concurrency` per endpoint, so a slow endpoint delays only itself."""

    def __init__(
        self,
        http: httpx.Client,
        log: DeliveryLog,
        lookup: Callable[[str], Endpoint | None],
        policy: Policy,
        stop: threading.Event,
    ) -> None:
        self._http, self._log, self._lookup, self._policy, self._stop = http, log, lookup, policy, stop
        self._queues: dict[str, queue.Queue[Job | None]] = {}
        self._threads: list[threading.Thread] = []

    def submit(self, job: Job) -> None:
        """Queue a delivery on its endpoint's senders (started on first use)."""
        q = self._queues.get(job.endpoint_id)
        if q is None:
            q = self._queues[job.endpoint_id] = queue.Queue()
            for i in range(self._policy.concurrency):
                t = threading.Thread(
                    target=self._work, args=(q,), name=f"send-{job.endpoint_id}-{i}", daemon=True
                )
                t.start()
                self._threads.append(t)
        q.put(job)

    def close(self, timeout_s: float) -> None:
        """Stop taking jobs; wait for attempts in progress (bounded by the request timeout)."""
        self._stop.set()
        for q in self._queues.values():
            for _ in range(self._policy.concurrency):
                q.put(None)
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _work(self, q: queue.Queue[Job | None]) -> None:
        while not self._stop.is_set():
            job = q.get()
            if job is None:
                return
            try:
                self.deliver(job)
            except Exception:  # a Redis hiccup in the log must not kill the sender: try the job again
                logger.exception(
                    "notifier: delivery failed endpoint=%s event=%s", job.endpoint_id, job.event.id
                )
                if not self._stop.wait(1.0):
                    q.put(job)

    def deliver(self, job: Job) -> None:
        """Attempt until delivered, dead-lettered or cancelled; on shutdown leave it owed (redelivered)."""
        endpoint = self._lookup(job.endpoint_id)
        now_ms = int(time.time() * 1000)
        d = Delivery(
            job.endpoint_id, endpoint.name if endpoint else "", job.event.id, job.event.kind, first_ms=now_ms
        )
        previous = self._log.get(d.id)
        if job.replay:  # a fresh round of attempts; the row says how many times it was replayed
            d.replays = int(previous.get("replays", 0)) + 1 if previous is not None else 1
        elif previous is not None:  # read again after a restart: carry on counting, never resend a done one
            if previous.get("status") in DONE:
                job.done()
                return
            d.attempts, d.first_ms = int(previous.get("attempts", 0)), int(previous.get("first_ms", now_ms))
            d.replays = int(previous.get("replays", 0))
        while not self._stop.is_set():
            endpoint = self._lookup(job.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                self._finish(job, d, CANCELLED, "endpoint deleted or disabled")
                return
            d.attempts += 1
            error, d.last_code = self._attempt(endpoint, job.event)
            d.last_ms = int(time.time() * 1000)
            if not error:
                self._finish(job, d, DELIVERED, "")
                return
            d.last_error = error
            if d.attempts >= self._policy.max_attempts:
                self._finish(job, d, DEAD, error, body_for(endpoint, job.event))
                return
            delay = backoff_s(
                d.attempts, self._policy.backoff_base_s, self._policy.backoff_max_s, random.random()
            )
            d.status, d.next_ms = RETRYING, d.last_ms + int(delay * 1000)
            self._log.record(d, failed_attempt=True)
            logger.info(
                "notifier: attempt %d failed endpoint=%s event=%s error=%s",
                d.attempts,
                d.endpoint_id,
                d.event_id,
                error,
            )
            if self._stop.wait(delay):
                return

    def _attempt(self, endpoint: Endpoint, event: Event) -> tuple[str, int | None]:
        body = body_for(endpoint, event)
        try:
            resp = self._http.post(
                endpoint.url, content=body, headers=headers_for(endpoint, event, body, time.time())
            )
        except httpx.HTTPError as exc:
            return _error_text(exc, endpoint.url), None
        if 200 <= resp.status_code < 300:
            return "", resp.status_code
        return f"HTTP {resp.status_code}", resp.status_code

    def _finish(self, job: Job, d: Delivery, status: str, error: str, body: bytes | None = None) -> None:
        d.status, d.next_ms = status, None
        if error:
            d.last_error = error
        if status == DEAD and body is not None:
            self._log.dead_letter(d, body, event_dict(job.event))
            logger.warning(
                "notifier: dead letter endpoint=%s event=%s attempts=%d error=%s",
                d.endpoint_id,
                d.event_id,
                d.attempts,
                error,
            )
        self._log.record(d, failed_attempt=status == DEAD, delivered=status == DELIVERED)
        job.done()
