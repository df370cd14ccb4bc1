"""The dashboard's Prometheus /metrics (real app, real Redis; real gunicorn for multiprocess mode)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from common.keys import RedisKeys
from dashapp.http_metrics import UNMATCHED, scrape_allowed
from tests.browser.harness import delete_prefix, running_dashboard
from tests.conftest import unique
from tests.test_dash_http import basic
from tests.test_security_fixtures import PASSWORDS, login, make_app, write_users
from tests.test_store_fixtures import make_alert, put_alert

SCRAPE = "scrape-secret-for-tests"
AUTH = {"Authorization": f"Bearer {SCRAPE}"}


@pytest.mark.parametrize(
    ("header", "secret", "ok"),
    [
        (f"Bearer {SCRAPE}", SCRAPE, True),
        (f"bearer  {SCRAPE} ", SCRAPE, True),
        (f"Bearer {SCRAPE}x", SCRAPE, False),
        (f"Basic {SCRAPE}", SCRAPE, False),
        ("Bearer ", "", False),  # no secret configured: nothing matches, not even an empty one
        (None, SCRAPE, False),
        ("Bearer \udcff", SCRAPE, False),
    ],
)
def test_scrape_token_check(header: str | None, secret: str, ok: bool) -> None:
    assert scrape_allowed(header, secret) is ok


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value of an exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_of(text: str, route: str, status: str, method: str = "GET") -> float:
    labels = frozenset({"route": route, "method": method, "status": status}.items())
    return samples(text).get(("dashapp_http_requests_total", labels), 0.0)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_users(tmp_path_factory.mktemp("metrics") / "users.json")


@pytest.fixture
def client(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[FlaskClient]:
    app = make_app(redis_client, redis_prefix, users_file, dash_metrics_token=SCRAPE)
    yield app.server.test_client()


@pytest.mark.integration
def test_metrics_need_the_scrape_token_or_an_admin_session(client: FlaskClient, users_file: Path) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=basic("root", PASSWORDS["root"])).status_code == 401  # not the API
    resp = client.get("/metrics", headers=AUTH)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    assert login(client, "ann").status_code == 303
    assert client.get("/metrics").status_code == 401  # an analyst's session
    admin = client.application.test_client()
    assert login(admin, "root").status_code == 303
    assert admin.get("/metrics").status_code == 200


@pytest.mark.integration
def test_requests_are_counted_by_route_template_method_and_status(
    client: FlaskClient, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    ann = basic("ann", PASSWORDS["ann"])
    alert_id = put_alert(redis_client, keys, make_alert(21))
    assert client.post(f"/api/alerts/{alert_id}/ack", json={"version": 1}, headers=ann).status_code == 200
    assert client.post(f"/api/alerts/{alert_id}/ack", json={"version": 1}, headers=ann).status_code == 409
    assert client.get("/api/stats", headers=ann).status_code == 200
    assert client.get("/api/stats").status_code == 401
    for n in range(3):
        assert client.get(f"/api/made-up-{n}", headers=ann).status_code == 404
    text = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    ack = "/api/alerts/<alert_id>/ack"
    assert requests_of(text, ack, "200", "POST") == 1 and requests_of(text, ack, "409", "POST") == 1
    assert requests_of(text, "/api/stats", "200") == 1 and requests_of(text, "/api/stats", "401") == 1
    assert requests_of(text, UNMATCHED, "404") == 3
    assert "made-up" not in text  # a made-up path never becomes a label
    count = (
        "dashapp_http_request_duration_seconds_count",
        frozenset({"route": ack, "method": "POST"}.items()),
    )
    assert samples(text)[count] == 2


@pytest.mark.integration
def test_open_sessions_are_counted_by_role(client: FlaskClient) -> None:
    def active(text: str, role: str) -> float:
        return samples(text).get(("dashapp_sessions_active", frozenset({"role": role}.items())), 0.0)

    before = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert active(before, "analyst") == 0
    for _ in range(2):
        assert login(client.application.test_client(), "bob").status_code == 303
    after = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert active(after, "analyst") == 2 and active(after, "admin") == 0


# --- under gunicorn: every worker's counts in every scrape ----------------------------------------
@pytest.mark.integration
def test_gunicorn_workers_count_into_one_exposition(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    monkeypatch.setenv("DASH_METRICS_TOKEN", SCRAPE)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    prefix = f"{unique('metrics')}:"
    total = 200
    try:
        with running_dashboard(redis_url, prefix, tmp_path, workers=2) as dash:

            def hit(_: int) -> int:  # a new connection each: the kernel spreads them over the workers
                return httpx.get(f"{dash.base_url}/healthz", timeout=30).status_code

            scrape = f"{dash.base_url}/metrics"
            before = requests_of(httpx.get(scrape, headers=AUTH, timeout=30).text, "/healthz", "200")
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                assert set(pool.map(hit, range(total))) == {200}
            pids = {p.stem.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}
            assert len(pids) >= 2, f"one worker served everything: {pids}"
            for _ in range(4):  # whichever worker answers the scrape reports every worker's counts
                text = httpx.get(scrape, headers=AUTH, timeout=30).text
                assert requests_of(text, "/healthz", "200") == before + total
    finally:
        delete_prefix(redis_url, prefix)


def exported_names(families: Any) -> set[str]:
    """Sample names the exposition of these metric families can contain."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
                "gauge": ("",), "summary": ("", "_count", "_sum", "_created")}  # fmt: skip
    return {f.name + s for f in families for s in suffixes.get(f.type, ("",))}


def dashboard_registry_names(client: FlaskClient) -> set[str]:
    return exported_names(
        text_string_to_metric_families(client.get("/metrics", headers=AUTH).get_data(as_text=True))
    )


@pytest.mark.integration
def test_exported_names_come_from_the_real_registries(client: FlaskClient) -> None:
    names = dashboard_registry_names(client)
    assert {"dashapp_http_requests_total", "dashapp_http_request_duration_seconds_bucket"} <= names
    assert "dashapp_sessions_active" in names


@pytest.mark.integration
def test_tick_polls_answered_by_the_front_are_counted_under_their_route(client: FlaskClient) -> None:
    assert login(client, "ann").status_code == 303
    front = client.application.wsgi_app
    answered = front.answered  # the tick front's own count, read through the metrics middleware
    statuses = [client.get("/api/tick?window=5").status_code for _ in range(3)]
    assert front.answered == answered + 3  # answered without Flask: no request hook ran for them
    text = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    counted = sum(requests_of(text, "/api/tick", str(s)) for s in set(statuses))
    assert counted == 3 and requests_of(text, UNMATCHED, "200") == 0
