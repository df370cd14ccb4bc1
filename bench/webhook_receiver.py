"""The bench's webhook receiver, in a process of its own: its port refuses connections until it comes
up, then it answers 200.

A receiver is another system on another host. Here it shares the cores, so it runs in its own process
(its request threads must not take the GIL from the bench's latency watcher) under `nice`, taking what
the stack leaves, as a remote one would take nothing of these cores.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENT_ID_HEADER = "X-Fraud-Event-Id"  # notifier.payloads: receivers dedupe on it


RECEIVER_NICE = 10


class _Receiver:
    """A receiver that is down from its creation until `up()`.

    The port is bound but not listening while down, so every connection is refused (the notifier
    sees a receiver that is down) and nobody else can take the port before it comes up.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._ids: set[str] = set()
        self.requests = 0
        self.up_at: float | None = None  # epoch seconds
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up_after(self, seconds: float) -> None:
        """Come up `seconds` from now (in a timer thread)."""
        self._timer = threading.Timer(seconds, self.up)
        self._timer.daemon = True
        self._timer.start()

    def up(self) -> None:
        """Start listening on the bound port and answer every POST with 200, recording its event id."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner._lock:
                    owner.requests += 1
                    owner._ids.add(self.headers.get(EVENT_ID_HEADER, ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = self._sock
        server.server_activate()  # listen(): from here connections are accepted
        server.daemon_threads = True
        self._server = server
        self.up_at = time.time()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def received(self) -> set[str]:
        """The distinct event ids delivered so far."""
        with self._lock:
            return set(self._ids)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        else:
            self._sock.close()


def _serve(conn: Any, nice: int) -> None:
    """The child: one _Receiver, driven by (command, argument) messages until "close"."""
    os.nice(nice)
    receiver = _Receiver()
    expected: set[str] = set()
    conn.send(receiver.port)
    while True:
        command, arg = conn.recv()
        if command == "up_after":
            receiver.up_after(arg)
            conn.send(None)
        elif command == "state":
            conn.send((receiver.up_at, receiver.requests, receiver.received() if arg else None))
        elif command == "expect":  # the ids the parent will poll for, sent once
            expected = set(arg)
            conn.send(None)
        elif command == "missing":  # counted here: polling moves one number, not the whole set
            conn.send(len(expected - receiver.received()))
        else:
            receiver.close()
            conn.send(None)
            return


class OutageReceiver:
    """The parent's handle on a _Receiver running in a child process (safe to call from threads)."""

    def __init__(self, nice: int = RECEIVER_NICE) -> None:
        ctx = multiprocessing.get_context("spawn")  # the bench has Kafka client threads: no fork
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, nice), daemon=True)
        self._proc.start()
        child.close()  # the child's end lives in the child only: its death reads as EOF here
        self._lock = threading.Lock()
        self.port: int = self._answer()

    def _answer(self, timeout_s: float = 30.0) -> Any:
        """The child's next message; RuntimeError if it sends none in time or is gone (never blocks)."""
        if not self._conn.poll(timeout_s):
            raise RuntimeError(f"bench: the webhook receiver did not answer within {timeout_s:.0f} s")
        try:
            return self._conn.recv()
        except EOFError:
            raise RuntimeError("bench: the webhook receiver process is gone") from None

    def _ask(self, command: str, arg: Any = None) -> Any:
        with self._lock:
            self._conn.send((command, arg))
            return self._answer()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up_after(self, seconds: float) -> None:
        """Come up `seconds` from now."""
        self._ask("up_after", seconds)

    @property
    def up_at(self) -> float | None:
        """Epoch seconds it came up, or None while down."""
        return self._ask("state", False)[0]

    @property
    def requests(self) -> int:
        return self._ask("state", False)[1]

    def received(self) -> set[str]:
        """The distinct event ids delivered so far (the whole set crosses the pipe: not for polling)."""
        return self._ask("state", True)[2]

    def expect(self, ids: set[str]) -> None:
        """Name the ids `missing()` counts (the set crosses the pipe once, here)."""
        self._ask("expect", ids)

    def missing(self) -> int:
        """How many of the expected ids are not delivered yet (cheap enough to poll)."""
        return self._ask("missing")

    def close(self) -> None:
        try:
            if self._proc.is_alive():
                self._ask("close")
        except (RuntimeError, OSError):
            pass  # gone or stuck: terminated below
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=5)
        self._conn.close()
