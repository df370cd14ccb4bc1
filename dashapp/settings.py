"""Dashboard settings, read once from the environment by create_app's caller (wsgi / __main__)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from common.settings import ConfigError

logger = logging.getLogger(__name__)
# One users file per checkout, whatever the working directory: `make run`, gunicorn and
# `python -m dashapp users ...` all find it (compose sets DASH_USERS_FILE to its volume instead).
DEFAULT_USERS_FILE = str(Path(__file__).resolve().parent.parent / ".local" / "run" / "users.json")


@dataclass(frozen=True)
class DashSettings:
    """Everything the dashboard needs; build with common.settings.from_env(DashSettings)."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "fraud:"
    dash_secret_key: str = ""
    dash_dev: bool = False  # allows a generated secret key (single process only)
    dash_users_file: str = DEFAULT_USERS_FILE
    dash_poll_ms: int = 1000
    dash_slow_refresh_s: float = 5.0  # health/map/quality refresh period even when seq is unchanged
    dash_basic_cache_ttl_s: float = 30.0
    dash_max_body_bytes: int = 1_000_000
    dash_secure_cookies: bool = False  # set to 1 behind TLS
    dash_session_hours: int = 12
    # login throttle (dashapp.store.throttle): failures before waits start, for browsers without
    # the user's device cookie; per user name from any address, and per address for any names
    dash_login_user_failures: int = 20
    dash_login_addr_failures: int = 50
    dash_proxy_hops: int = 0  # trusted reverse proxies in front (X-Forwarded-For)
    dash_timeline_points: int = 500
    dash_tick_max_points: int = 25  # newest timeline points sent per tick (a sample at high rates)
    dash_grid_rows: int = 300
    dash_frame_ms: int = 500  # live data is read once per frame per worker and shared by every tab
    dash_alert_sla_min: float = 30.0  # an open alert older than this is shown as overdue (search section)


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
