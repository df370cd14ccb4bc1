"""A minimal keep-alive HTTP/1.1 client connection on asyncio protocols (the load generator's hot path).

httpx spends ~10 ms of CPU per request at hundreds of requests/s; a load generator sharing two cores
with the server must stay far below the server's own cost, so each simulated tab owns one of these.
"""

from __future__ import annotations

import asyncio


class HttpError(Exception):
    """The connection failed or the server's answer was not parseable HTTP."""


class ClosedBeforeAnswer(HttpError):
    """The server closed the connection before sending any byte of the answer."""


class _Proto(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.closed = False
        self.need = 0  # bytes the current answer needs in `buf` (known once its head arrived)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            kind = HttpError if self.buf else ClosedBeforeAnswer
            self.waiter.set_exception(kind(f"connection closed ({exc or 'eof'})"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None or self.waiter.done() or len(self.buf) < self.need:
            return  # the rest of a long answer is still on its way: parse its head only once
        try:
            parsed = parse_response(self.buf)
        except HttpError as exc:
            self.waiter.set_exception(exc)
            return
        if isinstance(parsed, int):
            self.need = parsed
        elif parsed is not None:
            status, body, close, used = parsed
            del self.buf[:used]
            self.need = 0
            self.waiter.set_result((status, body, close))


def parse_response(buf: bytearray) -> tuple[int, bytes, bool, int] | int | None:
    """(status, body, server closes, bytes used) of one complete response in `buf`; if only its head
    is there, the total length it needs; None if not even the head is complete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"bad status line {head[0][:60]!r}")
    length, close = None, parts[0] == "HTTP/1.0"
    for line in head[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value == "close"
        elif name == "transfer-encoding" and value != "identity":
            raise HttpError("chunked responses are not expected from the dashboard")
    if length is None:
        length = 0 if int(parts[1]) in (204, 304) else -1
    if length < 0:
        raise HttpError("response without Content-Length")
    start = end + 4
    if len(buf) - start < length:
        return start + length
    return int(parts[1]), bytes(buf[start : start + length]), close, start + length


class Connection:
    """One keep-alive connection to host:port; one request at a time (as a tab's tick is)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._proto: _Proto | None = None
        self._was_reused = False
        self.retries = 0

    async def request(self, raw: bytes, timeout_s: float) -> tuple[int, bytes]:
        """Send one complete request; return (status, body).

        A kept-alive connection the server closed before answering is retried once on a new
        connection, as browsers do; everything else (timeouts, resets mid-answer) is the caller's error.
        """
        try:
            return await self._once(raw, timeout_s, fresh=False)
        except ClosedBeforeAnswer:
            if not self._was_reused:
                raise
        self.retries += 1
        return await self._once(raw, timeout_s, fresh=True)

    async def _connect(self) -> _Proto:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(_Proto, self.host, self.port)
        return proto

    async def _once(self, raw: bytes, timeout_s: float, fresh: bool) -> tuple[int, bytes]:
        if fresh:
            self.close()
        self._was_reused = self._proto is not None and not self._proto.closed
        if not self._was_reused:
            self._proto = await self._connect()
        proto = self._proto
        assert proto is not None and proto.transport is not None
        loop = asyncio.get_running_loop()
        proto.waiter = loop.create_future()
        proto.buf.clear()
        proto.need = 0
        proto.transport.write(raw)
        timer = loop.call_later(timeout_s, _expire, proto.waiter)
        try:
            status, body, close = await proto.waiter
        except BaseException:
            self.close()
            raise
        finally:
            timer.cancel()
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        self._proto = None


def _expire(fut: asyncio.Future[tuple[int, bytes, bool]]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("no complete answer in time"))
