"""`python -m bench.loadgen`: simulated analysts polling the dashboard (asyncio, own process).

Each analyst is a real logged-in session: it loads `/`, `/_dash-layout` and `/_dash-dependencies`
(httpx), then polls the live tick (`GET /api/tick`, dashapp.tick) once per second over its own
keep-alive connection (bench.http_conn: a few hundred microseconds of CPU per request, where httpx
took ~10 ms) as the page's script does, feeding returned cursors back as the page does. Only
127.0.0.1 is allowed; the run is bounded in time and request count and stops by itself.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from bench.http_conn import Connection, HttpError
from bench.stack import children_of, cpu_seconds
from bench.stats import latency_summary
from bench.tick_client import TickPoller, csrf_from_login_page


async def login(base: str, name: str, password: str) -> dict[str, str]:
    """Sign in through the login form; return the session cookies."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        page = await client.get("/login")
        token = csrf_from_login_page(page.text)
        resp = await client.post(
            "/login", data={"username": name, "password": password, "csrf_token": token, "next": "/"}
        )
        if resp.status_code != 303:
            raise RuntimeError(f"bench: login of {name} answered {resp.status_code}")
        return dict(client.cookies.items())


async def sessions(
    base: str, accounts: list[list[str]], n: int, cache: Path
) -> tuple[list[dict[str, str]], int]:
    """n logged-in sessions, reusing earlier ones from `cache` (each login costs a scrypt check)."""
    have: list[dict[str, str]] = json.loads(cache.read_text()) if cache.exists() else []
    sem = asyncio.Semaphore(4)

    async def one(i: int) -> dict[str, str]:
        name, password = accounts[i % len(accounts)]
        async with sem:
            return await login(base, name, password)

    new = max(0, n - len(have))
    if new:
        have += await asyncio.gather(*(one(i) for i in range(len(have), n)))
        cache.write_text(json.dumps(have))
    return have[:n], new


class Recorder:
    """Poll outcomes inside the measurement window."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self.lat: list[float] = []
        self.errors = 0
        self.error_samples: list[str] = []
        self.bytes = {"changed": [0, 0], "unchanged": [0, 0]}  # kind -> [polls, bytes]
        self.missed = 0

    def add(self, t0: float, ms: float, status: int | str, nbytes: int, changed: bool) -> None:
        if not self.start <= t0 < self.end:
            return
        self.lat.append(ms)
        if status not in (200, 204):
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(str(status))
            return
        kind = self.bytes["changed" if changed else "unchanged"]
        kind[0] += 1
        kind[1] += nbytes


class Page:
    """One open dashboard tab: its session cookie, its tick cursors and its poll connection."""

    def __init__(self, cookies: dict[str, str]) -> None:
        self.cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.tick = TickPoller()
        self.conn: Connection | None = None
        self.tail = b""

    def open(self, base: str) -> None:
        """The tab's own keep-alive connection and the fixed part of its poll requests."""
        url = urlsplit(base)
        self.conn = Connection(url.hostname or "127.0.0.1", url.port or 80)
        self.tail = (
            f" HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: application/json\r\nCookie: {self.cookie}\r\n\r\n"
        ).encode()

    async def poll(self) -> tuple[int, bytes]:
        """One tick GET on the tab's connection (a closed kept-alive one is retried once)."""
        assert self.conn is not None
        raw = b"GET " + self.tick.target().encode() + self.tail
        return await self.conn.request(raw, TIMEOUT_S)


TIMEOUT_S = 30.0


class Every:
    """True once every `n` calls (full parses of a sample of the answers)."""

    def __init__(self, n: int) -> None:
        self.n, self.i = max(1, n), 0

    def tick(self) -> bool:
        self.i += 1
        return self.i % self.n == 0


CHECKED = Every(10)
RETRIES = {"count": 0}
PAGE_ERRORS = {"count": 0}


async def _send(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], content: bytes | None = None
) -> httpx.Response:
    """One request; a reused keep-alive connection the server just closed is retried once, as browsers do."""
    try:
        return await client.request(method, url, headers=headers, content=content)
    except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
        RETRIES["count"] += 1
        return await client.request(method, url, headers=headers, content=content)


async def prepare(client: httpx.AsyncClient, cookies: dict[str, str], sem: asyncio.Semaphore) -> Page | None:
    """One browser opening the page: `/`, the layout and the callback graph (None: it failed)."""
    page = Page(cookies)
    headers = {"Cookie": page.cookie}
    for _ in range(3):  # an overloaded server may time a page load out; a person would reload
        try:
            async with sem:
                resp = await _send(client, "GET", "/", headers)
                for path in ("/_dash-layout", "/_dash-dependencies"):  # parsed, as the renderer does
                    (await _send(client, "GET", path, headers)).json()
        except (httpx.HTTPError, ValueError):
            PAGE_ERRORS["count"] += 1
            continue
        if resp.status_code != 200:
            raise RuntimeError(f"bench: GET / answered {resp.status_code} (not logged in?)")
        return page
    return None


async def analyst(page: Page, rec: Recorder, t0: float, phase: float) -> int:
    """One open page: one tick poll per second until the window ends."""
    loop, k, sent = asyncio.get_running_loop(), 0, 0
    while True:
        due = t0 + phase + k
        if due >= rec.end:
            return sent
        await asyncio.sleep(max(0.0, due - loop.time()))
        start = loop.time()
        status: int | str
        try:
            status, data = await page.poll()
            # 204: nothing changed; 200: the changed properties and the new cursors
            changed = status == 200 and page.tick.apply_raw(status, data)
            # a sample of answers is parsed in full, as browsers do
            if changed and CHECKED.tick() and not isinstance(orjson.loads(data), dict):
                raise ValueError("bench: a tick answer that is not an object")
            nbytes = len(data)
        except (HttpError, OSError, TimeoutError, ValueError) as exc:  # orjson errors are ValueErrors
            status, nbytes, changed = type(exc).__name__, 0, False
        rec.add(start, (loop.time() - start) * 1000, status, nbytes, changed)
        sent += 1
        k += 1
        late = int(loop.time() - (t0 + phase + k))
        if late > 0:  # a tick is missed when the previous one took longer than the interval
            rec.missed += late
            k += late


def server_cpu(pid: int) -> float:
    return cpu_seconds(pid) + sum(cpu_seconds(c) for c in children_of(pid))


async def run_level(pages: list[Page], args: argparse.Namespace) -> dict[str, Any]:
    """Every open tab polls for warm-up + duration; return the figures of the window."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.5
    rec = Recorder(t0 + args.warmup, t0 + args.warmup + args.duration)
    n = len(pages)
    tasks = [asyncio.create_task(analyst(page, rec, t0, i / n)) for i, page in enumerate(pages)]
    await asyncio.sleep(max(0.0, rec.start - loop.time()))
    cpu0, me0 = server_cpu(args.server_pid), resource.getrusage(resource.RUSAGE_SELF)
    retries0 = RETRIES["count"] + sum(p.conn.retries for p in pages if p.conn)
    await asyncio.sleep(max(0.0, rec.end - loop.time()))
    cpu1, me1 = server_cpu(args.server_pid), resource.getrusage(resource.RUSAGE_SELF)
    _, pending = await asyncio.wait(tasks, timeout=15)
    for task in pending:  # a request still unanswered 15 s after the window: counted as a failure
        task.cancel()
    rec.errors += len(pending)
    if pending and len(rec.error_samples) < 5:
        rec.error_samples.append(f"unanswered>15s x{len(pending)}")
    polls, changed, unchanged = len(rec.lat), rec.bytes["changed"], rec.bytes["unchanged"]
    return {
        "analysts": n,
        "duration_s": args.duration,
        "polls": polls,
        "req_per_s": polls / args.duration,
        "latency_ms": latency_summary(rec.lat),
        "errors": rec.errors,
        "error_samples": rec.error_samples,
        "missed_ticks": rec.missed,
        "server_cpu_ms_per_poll": 1000 * (cpu1 - cpu0) / max(1, polls),
        "server_cpu_cores": (cpu1 - cpu0) / args.duration,
        "loadgen_cpu_cores": (me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime) / args.duration,
        "changed_polls": changed[0],
        "unchanged_polls": unchanged[0],
        "bytes_per_changed_poll": changed[1] / changed[0] if changed[0] else float("nan"),
        "bytes_per_unchanged_poll": unchanged[1] / unchanged[0] if unchanged[0] else float("nan"),
        "retried_requests": RETRIES["count"] + sum(p.conn.retries for p in pages if p.conn) - retries0,
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Log in, then for each level open the extra tabs it needs and measure; return one result per level."""
    levels = sorted(int(x) for x in args.analysts.split(","))
    accounts = json.loads(Path(args.accounts).read_text())
    t_login = time.monotonic()
    n_sessions = min(levels[-1], args.sessions)
    logged_in, new_logins = await sessions(args.base, accounts, n_sessions, Path(args.cookies))
    login_s = time.monotonic() - t_login
    # More analysts than sessions: the extra ones are further tabs of a signed-in browser (shared
    # cookie, own connection and callback state), which costs the server exactly what a session does.
    cookies = [logged_in[i % n_sessions] for i in range(levels[-1])]
    # One pooled client with a connection per tab; each request carries its tab's own cookie header
    # (an explicit Cookie header wins over the client's jar), which keeps 500 tabs cheap to simulate.
    limits = httpx.Limits(max_connections=levels[-1], max_keepalive_connections=levels[-1])
    pages: list[Page] = []
    out = []
    async with httpx.AsyncClient(base_url=args.base, limits=limits, timeout=30) as client:
        for n in levels:  # analysts join: each level keeps the tabs already open and opens more
            t_setup = time.monotonic()
            sem = asyncio.Semaphore(20)
            opened = await asyncio.gather(*(prepare(client, c, sem) for c in cookies[len(pages) : n]))
            for page in opened:
                if page is not None:
                    page.open(args.base)
                    pages.append(page)
            result = await run_level(pages, args)
            result.update(
                page_load_s=time.monotonic() - t_setup - args.warmup - args.duration - 0.5,
                sessions=min(n, n_sessions),
                page_load_errors=PAGE_ERRORS["count"],
                open_tabs=len(pages),
                new_logins=new_logins,
                login_s=login_s,
            )
            out.append(result)
    return out


def _run(coro: Any) -> Any:
    """Run on uvloop when it is installed (about half the event-loop CPU per request), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen")
    p.add_argument("--base", required=True)
    p.add_argument("--analysts", required=True, help="comma-separated levels, e.g. 50,200,500")
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--accounts", required=True, help="JSON [[name, password], ...]")
    p.add_argument("--cookies", required=True, help="session cache file")
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--sessions", type=int, default=50, help="distinct logins (analysts beyond are tabs)")
    p.add_argument("--full-parse-every", type=int, default=10, help="parse every Nth changed answer in full")
    args = p.parse_args(argv)
    CHECKED.n = max(1, args.full_parse_every)
    if urlsplit(args.base).hostname != "127.0.0.1":
        p.error("the load generator only targets 127.0.0.1")
    levels = [int(x) for x in args.analysts.split(",")]
    if not all(0 < n <= 2000 for n in levels) or len(levels) > 5 or not 0 < args.duration <= 600:
        p.error("analysts must be up to 5 levels of 1..2000 and duration 0..600 s")
    bound = len(levels) * (args.warmup + args.duration) + 900  # the whole run stops by itself
    out = _run(asyncio.wait_for(main_async(args), timeout=bound))
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
