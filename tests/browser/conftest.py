"""Browser-test fixtures: the real gunicorn dashboard, a real bridge and producer, headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from tests.browser.harness import REPO_ROOT, Dashboard, delete_prefix, running_dashboard
from tests.conftest import unique

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WAIT_MS = 20_000  # generous: the machine has 2 heavily loaded cores
DATA_WAIT_MS = 40_000  # Kafka -> bridge -> Redis -> next tick, on the same loaded cores
TICK_PATH = "/api/tick"  # the live tick's poll (dashapp.tick, assets/tick.js)
CALLBACK_PATH = "/_dash-update-component"  # Dash 4.4 adds a query string (?endId=...)
DATA_TIMEOUT_S = 60.0
# The live producer's world (injected scenarios use its cards). Many cards: with few, ordinary
# traffic puts enough purchases on one card to trip the velocity rule, and a high-severity false
# positive would share the RED ALERT banner with the alerts these tests raise.
SEED, CARDS = 5, 20_000


@pytest.fixture(scope="session")
def dashboard(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The real dashboard (2 gunicorn workers) on a free port, reading a private key prefix."""
    prefix = f"{unique('browser')}:"
    workdir = tmp_path_factory.mktemp("dash")
    try:
        with running_dashboard(redis_url, prefix, workdir, workers=2) as dash:
            yield dash
    finally:
        delete_prefix(redis_url, prefix)


@dataclass
class Pipeline:
    """The real stream for one browser session: producer CLI -> Kafka -> bridge -> Redis."""

    bootstrap: str
    topic: str
    client: redis.Redis
    dashboard: Dashboard
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def send(self, *values: bytes) -> None:
        """Produce records (keyed by card, like the producer) and wait for Kafka's acknowledgement."""
        from tests.streams import produce

        def key(value: bytes) -> bytes:
            try:
                return str(msgspec.json.decode(value)["card_id"]).encode()
            except (msgspec.DecodeError, KeyError, TypeError):
                return b"bad-record"

        produce(self.bootstrap, self.topic, [(v, key(v), []) for v in values])

    def inject(self, scenario: str, card: int) -> list[str]:
        """Send one instance of a producer fraud scenario ending now (as `producer inject`); alert ids."""
        import random
        from dataclasses import replace

        from common.alerts import alert_id_for
        from producer.generator import instance_events
        from producer.kafka_io import send_events
        from producer.scenarios import make_instance
        from producer.world import World

        world = World.build(SEED, CARDS)
        inst = make_instance(scenario, world, random.Random(card), card, int(time.time() * 1000))
        span = inst.events[-1].ts_ms - inst.events[0].ts_ms
        inst = replace(inst, events=tuple(p._replace(ts_ms=p.ts_ms - span) for p in inst.events))
        events = instance_events(world, inst)
        send_events(self.bootstrap, self.topic, events)
        return [alert_id_for(e.event.txn_id) for e in events]

    def wait_for(self, what: str, check: Callable[[], bool], timeout_s: float = DATA_TIMEOUT_S) -> None:
        """Poll `check` until it holds; fail with the bridge log on timeout."""
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                tails = "\n".join(
                    p.read_text(errors="replace")[-2500:] for p in sorted(self.logs.glob("*.log"))
                )
                raise AssertionError(f"timed out waiting for {what}\n{tails}")
            time.sleep(0.1)

    def wait_alert(self, alert_id: str) -> None:
        """Wait until the bridge has written the alert record."""
        key = self.dashboard.keys.alert(alert_id)
        self.wait_for(f"alert {alert_id} in Redis", lambda: bool(self.client.exists(key)))


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def pipeline(
    dashboard: Dashboard, kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    """A fresh topic, one real bridge writing the dashboard's prefix, and the producer CLI streaming."""
    from infra.kafka_topics import ensure_topics

    topic, dlq = unique("t-browser"), unique("t-browser-dlq")
    ensure_topics(kafka_bootstrap, {topic: 3, dlq: 1})
    logs = tmp_path_factory.mktemp("pipeline")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_DLQ_TOPIC": dlq,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": dashboard.prefix,
        "BRIDGE_GROUP_ID": unique("browser-bridge"),
        "BRIDGE_POLL_TIMEOUT_MS": "50",
    }
    client = redis.Redis.from_url(redis_url)
    pipe = Pipeline(kafka_bootstrap, topic, client, dashboard, logs)
    pipe.procs.append(_spawn([sys.executable, "-m", "bridge"], env, logs / "bridge.log"))
    # Normal traffic only (fraud ratio 0): every high-severity alert in this session is one a test made.
    stream = [
        "--rate",
        "10",
        "--count",
        "0",
        "--fraud-ratio",
        "0",
        "--cards",
        str(CARDS),
        "--seed",
        str(SEED),
        "--world-seed",
        str(SEED),
    ]
    pipe.procs.append(_spawn([sys.executable, "-m", "producer", *stream], env, logs / "producer.log"))
    try:
        totals = dashboard.keys.totals
        pipe.wait_for(
            "the bridge to process the live stream", lambda: int(client.hget(totals, "txns") or 0) > 50
        )
        yield pipe
    finally:
        for proc in reversed(pipe.procs):
            _stop(proc)
        client.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the session (never a downloaded browser)."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package "
            "(infra/prereqs.sh --browser) or set CHROMIUM_PATH; browser tests never download one",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Analyst:
    """One signed-in browser context and what it observed."""

    name: str
    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    in_flight: set[Any] = field(default_factory=set)  # callback and tick requests not answered yet

    def settle(self) -> None:
        """Wait until no callback request of this page is pending (twice in a row, 300 ms apart)."""
        deadline, quiet = time.monotonic() + WAIT_MS / 1000, 0
        while quiet < 2 and time.monotonic() < deadline:
            quiet = quiet + 1 if not self.in_flight else 0
            self.page.wait_for_timeout(300)  # also lets Playwright deliver pending network events
        assert quiet >= 2, f"{self.name}: callbacks still pending: {len(self.in_flight)}"

    def stall_ticks(self) -> None:
        """From now on drop this browser's live ticks (a stale view, as on a bad network).

        Then waits until what was already on its way (a tick and what it set off) has landed.
        """

        self.page.route(lambda url: TICK_PATH in url, lambda route: route.abort())
        self.settle()


def login(page: Any, base_url: str, name: str, password: str) -> None:
    """Sign in through the real login form and wait for the live page."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/", wait_until="domcontentloaded")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"), timeout=WAIT_MS)
    page.fill("#login-username", name)
    page.fill("#login-password", password)
    page.click("#login-submit")
    # the first render loads plotly.js and AG Grid: slow on a loaded machine
    expect(page.locator("#current-user")).to_have_text(name, timeout=WAIT_MS * 3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember each phase's outcome on the item (the analysts fixture screenshots failures)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def signed_in(browser: Any, dashboard: Dashboard) -> Iterator[dict[str, Analyst]]:
    """Each analyst signs in once per session, in a context of their own, and stays on the live page.

    (Loading the page is the slowest step on a busy machine, so tests share these sessions.)
    """
    people: dict[str, Analyst] = {}
    yield people
    for who in people.values():
        who.page.context.close()


def _open(browser: Any, dashboard: Dashboard, name: str) -> Analyst:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    who = Analyst(name, page)

    def on_dialog(dialog: Any) -> None:
        who.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: who.errors.append(str(exc)))
    page.on(
        "request", lambda r: who.in_flight.add(r) if CALLBACK_PATH in r.url or TICK_PATH in r.url else None
    )

    def landed(req: Any) -> None:  # a plain function: Playwright cannot wrap a builtin method
        who.in_flight.discard(req)

    page.on("requestfinished", landed)
    page.on("requestfailed", landed)
    page.on(
        "response", lambda r: who.server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None
    )
    login(page, dashboard.base_url, name, dashboard.passwords[name])
    return who


def _screenshot_failure(request: pytest.FixtureRequest, people: list[Analyst]) -> None:
    failed = getattr(request.node, "rep_call", None)
    if failed is None or not failed.failed:
        return
    shots = REPO_ROOT / ".local" / "test" / "browser-failures"
    shots.mkdir(parents=True, exist_ok=True)
    for who in people:  # what each analyst saw, for the failure report (best effort)
        shot = shots / f"{request.node.name}-{who.name}.png"
        try:
            who.page.screenshot(path=str(shot), full_page=True, timeout=DATA_WAIT_MS)
            print(f"screenshot of {who.name}'s page: {shot}")
        except Exception as exc:  # a failed screenshot must not hide the test failure
            print(f"no screenshot of {who.name}'s page: {exc}")


def _reset(who: Analyst) -> None:
    """Leave the shared page as the next test expects it: live ticks on, no filter, nothing recorded."""
    who.page.unroute_all(behavior="ignoreErrors")
    who.page.set_viewport_size({"width": 1400, "height": 1000})
    box = who.page.locator("#grid-quick-filter")
    if box.input_value():
        box.fill("")
        box.press("Enter")
    who.dialogs.clear()
    who.errors.clear()
    who.server_errors.clear()


@pytest.fixture
def analysts(
    browser: Any,
    dashboard: Dashboard,
    signed_in: dict[str, Analyst],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], Analyst]]:
    """`analysts(name)`: that user's signed-in page (own browser context), opened on first use."""
    used: list[Analyst] = []

    def open_as(name: str) -> Analyst:
        if name not in signed_in:
            signed_in[name] = _open(browser, dashboard, name)
        who = signed_in[name]
        used.append(who)
        return who

    yield open_as
    _screenshot_failure(request, used)
    for who in used:
        _reset(who)
