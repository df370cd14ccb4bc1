# ruff: noqa: N999 - gunicorn looks for this file name
"""gunicorn settings for the dashboard: `gunicorn -c dashapp/gunicorn.conf.py dashapp.wsgi:server`."""

import glob
import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("DASH_BIND", "127.0.0.1:8050")
worker_class = "gthread"
# One worker per core plus one, 4 threads each: a worker reads the live data once per frame for all
# its tabs, so few workers share more, but its threads share one GIL and every system call of a
# request (read, two writes) waits for it again. Measured side by side on 2 cores at 500 polls/s:
# 3 x 4 threads (with the switch interval below) had a lower p95 than 2 x 8 in 4 of 5 runs.
workers = int(os.environ.get("DASH_WORKERS", str(max(2, min(5, multiprocessing.cpu_count() + 1)))))
threads = int(os.environ.get("DASH_THREADS", "4"))
# how long a thread holding the GIL may keep it while another wants it (CPython's default: 5 ms);
# a request thread back from a system call waits up to this long, several times per request
gil_switch_interval_s = max(1e-5, float(os.environ.get("DASH_GIL_SWITCH_S", "0.0005")))
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
# /metrics under several workers (dashapp/http_metrics.py): prometheus_client counts in per-process
# files when PROMETHEUS_MULTIPROC_DIR is set before it is imported (workers import it with the app,
# after this file ran) and a scrape of any worker sums them. Each start begins from zero.
_METRICS_DIR_GIVEN = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
    prefix="dashapp-metrics-", dir=worker_tmp_dir
)
for _stale in glob.glob(os.path.join(metrics_dir, "*.db")):
    os.remove(_stale)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir


def post_worker_init(worker: object) -> None:
    """Per worker, once the app is loaded: the GIL switch interval, and the start-up objects frozen.

    Dash and plotly leave ~80,000 long-lived objects after import; a full collection walks all of
    them with the GIL held (~85 ms measured), stalling every thread of the worker. Frozen, a full
    collection scans only what requests allocated since.
    """
    import gc
    import sys

    sys.setswitchinterval(gil_switch_interval_s)
    gc.collect()
    gc.freeze()


def child_exit(server: object, worker: object) -> None:
    """A worker ended (restart, crash): its live gauges stop counting; its counters still add up."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    """The master stops: remove the metrics directory it made (a given one is left to its owner)."""
    if not _METRICS_DIR_GIVEN:
        shutil.rmtree(metrics_dir, ignore_errors=True)
