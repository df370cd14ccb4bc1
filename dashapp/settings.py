"""Dashboard settings, read once from the environment by create_app's caller (wsgi / __main__)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from common.settings import ConfigError, RedisSettings, setting

logger = logging.getLogger(__name__)
# One users file per checkout, whatever the working directory: `make run`, gunicorn and
# `python -m dashapp users ...` all find it (compose sets DASH_USERS_FILE to its volume instead).
DEFAULT_USERS_FILE = str(Path(__file__).resolve().parent.parent / ".local" / "run" / "users.json")


@dataclass(frozen=True)
class DashSettings(RedisSettings):
    """Everything the dashboard needs; build with common.settings.from_env(DashSettings)."""

    dash_secret_key: str = setting(
        "",
        "one fixed session key for every worker and host",
        shown="required (`make run` generates one in `.local/run`)",
    )
    dash_dev: bool = setting(False, "`1` allows a random key (development only, one process)")
    dash_users_file: str = setting(
        DEFAULT_USERS_FILE,
        "users, roles, scrypt hashes; the same default for `make run`, gunicorn and "
        "`python -m dashapp users`",
        shown="`<checkout>/.local/run/users.json` (image and compose: `/data/users.json`)",
    )
    dash_poll_ms: int = setting(1000, "refresh interval")
    dash_slow_refresh_s: float = setting(
        5.0, "period of health/map/rules/quality/table resync, even when nothing changed"
    )
    dash_basic_cache_ttl_s: float = setting(30.0, "cache of verified HTTP Basic credentials")
    dash_max_body_bytes: int = setting(1_000_000, "larger requests get 413")
    dash_secure_cookies: bool = setting(False, "`1` behind TLS")
    dash_session_hours: int = setting(12, "session lifetime")
    # login throttle (dashapp.store.throttle): failures before waits start, for browsers without
    # the user's device cookie; per user name from any address, and per address for any names
    dash_login_user_failures: int = setting(
        20,
        "failed logins allowed for one user from any address before back-off (browsers with the "
        "user's device cookie are throttled only on their own failures)",
    )
    dash_login_addr_failures: int = setting(
        50, "failed logins allowed from one address for any names before back-off"
    )
    dash_proxy_hops: int = setting(
        0, "trusted reverse proxies in front (`X-Forwarded-For`: the client address for throttling)"
    )
    dash_timeline_points: int = setting(500, "sliding window of the timeline")
    dash_tick_max_points: int = setting(
        25,
        "newest timeline points sent per tick (a sample at high rates; KPIs, throughput, alerts stay exact)",
    )
    dash_grid_rows: int = setting(300, "rows of the live alert table")
    dash_frame_ms: int = setting(
        500,
        "live data is read once per frame per worker and shared by every tab (so it can be one frame old)",
    )
    dash_metrics_token: str = setting(
        "",
        "scrape secret for `GET /metrics` (`Authorization: Bearer <it>`); empty: admin sessions only",
        shown="empty",
    )
    dash_alert_sla_min: float = setting(
        30.0, "an open alert older than this is highlighted as overdue in search and My queue"
    )


def resolve_secret_key(settings: DashSettings) -> str:
    """Return the fixed session key, a random one in dev mode, or raise ConfigError."""
    if settings.dash_secret_key:
        if len(settings.dash_secret_key) < 16:
            raise ConfigError("DASH_SECRET_KEY must be at least 16 characters")
        return settings.dash_secret_key
    if settings.dash_dev:
        logger.warning(
            "dashapp: DASH_SECRET_KEY unset; generated a random key (DASH_DEV=1). Sessions die on "
            "restart and do not work across several workers."
        )
        return secrets.token_hex(32)
    raise ConfigError("DASH_SECRET_KEY is required (or set DASH_DEV=1 for a throwaway key)")
