"""WSGI entry point for gunicorn (`dashapp.wsgi:server`): settings read once from the environment."""

from __future__ import annotations

import logging

import redis

from common.settings import from_env
from dashapp.app import create_app
from dashapp.settings import DashSettings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
settings = from_env(DashSettings)
# One connection pool per worker process; short timeouts so a Redis outage fails a tick, not a thread.
_redis = redis.Redis.from_url(
    settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
)
app = create_app(settings, _redis)
server = app.server
