"""WSGI entry point for gunicorn (`dashapp.wsgi:server`): settings read once from the environment."""

from __future__ import annotations

import logging

from common.settings import from_env
from dashapp.app import create_app, redis_client
from dashapp.settings import DashSettings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
logging.getLogger("werkzeug").setLevel(logging.WARNING)
settings = from_env(DashSettings)
app = create_app(settings, redis_client(settings.redis_url))
server = app.server
