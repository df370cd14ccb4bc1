"""The app factory: create_app(settings, redis) -> Dash, stateless so any number of workers can run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import redis
from dash import Dash
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from werkzeug.middleware.proxy_fix import ProxyFix

from common.keys import RedisKeys
from common.webhook_log import DeliveryLog
from common.webhooks import EndpointStore
from dashapp.api import install_api
from dashapp.auth.basic import BasicVerifier
from dashapp.auth.core import Auth
from dashapp.auth.device import DeviceCookies
from dashapp.auth.login import install_auth
from dashapp.auth.session_cache import CachedCookieSessionInterface
from dashapp.auth.sessions import SessionRegistry
from dashapp.auth.users import UserDirectory
from dashapp.callbacks.backtest_cb import register_backtest
from dashapp.callbacks.clientside import register_clientside
from dashapp.callbacks.lists_cb import register_lists
from dashapp.callbacks.models_cb import register_models
from dashapp.callbacks.rule_builder_cb import register_rule_builder
from dashapp.callbacks.rules_cb import register_rules
from dashapp.callbacks.search_cb import register_search
from dashapp.callbacks.shadow_cb import register_shadow
from dashapp.callbacks.versions_cb import register_versions
from dashapp.callbacks.webhooks_cb import register_webhooks
from dashapp.callbacks.workflow_cb import register_workflow
from dashapp.http_metrics import install_http_metrics
from dashapp.layout import build_layout
from dashapp.security import install_csp, install_security
from dashapp.settings import DashSettings, resolve_secret_key
from dashapp.store import AlertWorkflow, DashboardReader, RulesStore
from dashapp.store.lists import ListStore
from dashapp.store.rule_quality import RuleQualityReader
from dashapp.store.throttle import LimiterPolicy, LoginLimiter
from dashapp.tick import TickConfig, install_tick
from model.registry import ModelRegistry

logger = logging.getLogger(__name__)
ASSETS = Path(__file__).with_name("assets")
USERS_RECHECK_S = 1.0  # a user added, removed or re-roled in the users file applies within a second


def redis_client(url: str) -> redis.Redis:
    """One pool per worker; short timeouts and one quick retry, so a dead Redis fails a tick fast."""
    return redis.Redis.from_url(
        url,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
    )


def _configure_server(app: Dash, settings: DashSettings) -> None:
    server = app.server
    server.secret_key = resolve_secret_key(settings)
    server.session_interface = CachedCookieSessionInterface()  # no HMAC check per 1 s poll
    server.config.update(
        SESSION_COOKIE_NAME="fraud_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.dash_secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.dash_session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,  # no Set-Cookie on every 1 s poll; sessions end N h after login
        REMEMBER_COOKIE_DURATION=timedelta(0),
    )
    if settings.dash_proxy_hops > 0:
        hops = settings.dash_proxy_hops
        proxied = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
        server.wsgi_app = proxied


def _auth(
    settings: DashSettings, secret: str, users: UserDirectory, client: redis.Redis, keys: RedisKeys
) -> Auth:
    return Auth(
        users=users,
        basic=BasicVerifier(users, settings.dash_basic_cache_ttl_s),
        throttle=LoginLimiter(
            client,
            keys,
            LimiterPolicy(user=settings.dash_login_user_failures, addr=settings.dash_login_addr_failures),
        ),
        sessions=SessionRegistry(client, keys, lifetime_s=settings.dash_session_hours * 3600),
        devices=DeviceCookies(secret),
        secure_cookies=settings.dash_secure_cookies,
    )


def create_app(
    settings: DashSettings, redis_client: redis.Redis, *, clock: Callable[[], float] = time.time
) -> Dash:
    """Build the dashboard; it reads only Redis, through `redis_client`, and keeps no data in memory.

    clock: the live tick's wall clock (tests pin it so two ticks never straddle a refresh period).
    """
    keys = RedisKeys(settings.redis_key_prefix)
    reader = DashboardReader(redis_client, keys)
    app = Dash(
        __name__,
        title="Fraud monitor",
        update_title=None,  # type: ignore[arg-type]  # None disables "Updating..." titles
        assets_folder=str(ASSETS),
        serve_locally=True,
        compress=False,
        suppress_callback_exceptions=False,
    )
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)  # WCAG 3.1.1
    _configure_server(app, settings)
    server = app.server
    users = UserDirectory(settings.dash_users_file, recheck_s=USERS_RECHECK_S)
    install_auth(server, _auth(settings, str(server.secret_key), users, redis_client, keys))
    # after the access guard: anonymous requests learn nothing about callback shapes
    install_security(server, lambda: app.callback_map, settings.dash_max_body_bytes)
    install_api(server, reader, redis_client)
    app.layout = lambda: build_layout(settings.dash_poll_ms)
    cfg = TickConfig(
        timeline_points=settings.dash_timeline_points,
        grid_rows=settings.dash_grid_rows,
        slow_refresh_ms=int(settings.dash_slow_refresh_s * 1000),
        tick_max_points=settings.dash_tick_max_points,
        frame_ms=settings.dash_frame_ms,
    )
    install_tick(app, reader, cfg, clock=clock)  # GET /api/tick and the page's one callback
    register_workflow(app, AlertWorkflow(redis_client, keys))
    register_search(app, redis_client, keys, settings.dash_alert_sla_min)
    rules = RulesStore(redis_client, keys)
    register_rules(app, rules)
    lists = ListStore(redis_client, keys, in_use=rules.lists_in_use)
    register_rule_builder(app, rules, reader, lists.names)  # the rule builder, its versions and lists tabs
    register_versions(app, rules, RuleQualityReader(redis_client, keys))  # + the rule-quality table
    register_lists(app, lists)
    register_backtest(app, redis_client, keys)  # the rule builder's backtest panel
    register_shadow(app, redis_client, keys)  # the rule builder's shadow panel
    register_webhooks(app, EndpointStore(redis_client, keys), DeliveryLog(redis_client, keys))
    register_models(app, ModelRegistry(redis_client, keys))  # the model registry section
    register_clientside(app)
    install_csp(server, app.csp_hashes())  # after every callback: Dash hashes its inline scripts
    install_http_metrics(server, redis_client, keys, settings.dash_metrics_token)  # wraps every WSGI layer
    _prepare_dash(app)
    logger.info(
        "dashapp: created prefix=%s users_file=%s", settings.redis_key_prefix, settings.dash_users_file
    )
    return app


def _prepare_dash(app: Dash) -> None:
    """Let Dash prepare its server now, single-threaded, instead of on the first request.

    Dash does it in a before-request hook that marks itself done before it starts, so under a
    threaded worker a second request arriving meanwhile is served unprepared: the page's scripts
    (`/_dash-component-suites/...`) were refused with "dash is not a registered library" and the
    page stayed at "Loading..." (seen in the browser tests on a worker's first page load). One
    request that touches nothing (refused by the access guard, no Redis) runs the hook.
    """
    with app.server.test_client() as client:
        client.get("/_dash-layout")
