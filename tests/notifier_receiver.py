"""A real local HTTP webhook receiver for the notifier tests: records requests, can go down or be slow."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common.alerts import Alert, Reason


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """ThreadingHTTPServer on 127.0.0.1 in a thread; `stop()` closes the port (connection refused)."""

    def __init__(self, status: int = 200, delay_s: float = 0.0, port: int = 0) -> None:
        self.status, self.delay_s = status, delay_s
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                with owner._lock:
                    if 200 <= owner.status < 300:
                        owner.received.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def event_ids(self) -> list[str]:
        with self._lock:
            return [r.headers.get("X-Fraud-Event-Id", "") for r in self.received]


def wait_until(predicate: object, timeout_s: float, what: str) -> None:
    """Poll `predicate()` until true; AssertionError naming `what` after `timeout_s` (a hang guard)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def make_alert(n: int, severity: str = "high", rule: str = "high_amount") -> Alert:
    """A valid alert with id `a<n>` on card `C-<n>`."""
    return Alert(
        alert_id=f"a{n:05d}",
        txn_id=f"t{n}",
        ts="2026-01-01T00:00:00.000Z",
        event_ms=1_767_225_600_000 + n,
        card_id=f"C-{n}",
        account_id="A-1",
        amount=6000.0,
        currency="USD",
        merchant_id="M-1",
        merchant_category="electronics",
        city="Oslo",
        country="NO",
        lat=59.9,
        lon=10.7,
        channel="online",
        score=0.9,
        severity=severity,  # type: ignore[arg-type]
        reasons=(
            Reason(rule=rule, observed=6000.0, limit=5000.0, text="amount 6,000.00 USD above $5,000.00"),
        ),
        rules_version=3,
    )


def send_alerts(bootstrap: str, topic: str, count: int) -> list[str]:
    """Publish make_alert(0..count-1) to `topic` as the bridge would; return their alert ids."""
    from kafka import KafkaProducer

    from common.alert_topic import alert_record

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        for n in range(count):
            key, value, headers = alert_record(make_alert(n))
            producer.send(topic, key=key, value=value, headers=headers)
        producer.flush()
    finally:
        producer.close()
    return [make_alert(n).alert_id for n in range(count)]
