# ruff: noqa: N999 - gunicorn looks for this file name
"""gunicorn settings for the dashboard: `gunicorn -c dashapp/gunicorn.conf.py dashapp.wsgi:server`."""

import multiprocessing
import os

bind = os.environ.get("DASH_BIND", "127.0.0.1:8050")
worker_class = "gthread"
# One worker per core: every worker reads the live data once per frame for all its tabs, so fewer,
# threaded workers share more (measured on 2 cores: 2 x 8 threads beat 4 x 4 at 500 polls/s).
workers = int(os.environ.get("DASH_WORKERS", str(max(2, min(4, multiprocessing.cpu_count())))))
threads = int(os.environ.get("DASH_THREADS", "8"))
timeout = int(os.environ.get("DASH_TIMEOUT_S", "30"))
graceful_timeout = 20
keepalive = 5  # browsers poll every second: keep their connections
max_requests = int(os.environ.get("DASH_MAX_REQUESTS", "20000"))
max_requests_jitter = int(os.environ.get("DASH_MAX_REQUESTS_JITTER", "2000"))
limit_request_line = 8190
limit_request_field_size = 8190
accesslog = os.environ.get("DASH_ACCESS_LOG") or None  # "-" for stdout; off by default (1 req/s/user)
errorlog = "-"
loglevel = os.environ.get("DASH_LOG_LEVEL", "info")
proc_name = "fraud-dashapp"
# No gunicornc control socket: we don't use it, and its default path ($HOME/.gunicorn/gunicorn.ctl)
# is shared by every gunicorn on the host (tests, benchmarks and `make run` would collide).
control_socket_disable = True
# The heartbeat file is touched on every loop of every worker: keep it in memory, not on a disk.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn creates its heartbeat file there with mkstemp
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
