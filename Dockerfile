# One image for the three Python services (producer, bridge, dashapp); compose picks the command.

# The bridge's native engine (native/, Rust + pyo3) is built into a wheel in its own stage.
FROM rust:1-slim-bookworm AS native
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /build && /build/bin/pip install --no-cache-dir "maturin>=1.5,<2"
COPY native/ /native/
RUN cd /native && /build/bin/maturin build --release --interpreter python3.11 --out /wheels

FROM python:3.11-slim

# DASH_USERS_FILE on the /data volume: the dashboard and `python -m dashapp users add` in any
# container of this image agree on one file (compose sets the same value explicitly).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DASH_USERS_FILE=/data/users.json

# libgomp1: LightGBM's OpenMP runtime (model/); the slim image has no compiler that would bring it
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY --from=native /wheels/ /tmp/wheels/
RUN pip install /tmp/wheels/*.whl && rm -rf /tmp/wheels

COPY common/ common/
COPY producer/ producer/
COPY bridge/ bridge/
COPY dashapp/ dashapp/
COPY notifier/ notifier/
COPY backtest/ backtest/
COPY outbox/ outbox/
COPY model/ model/

RUN useradd --create-home --uid 10001 app && mkdir -p /data && chown app /data
USER app
EXPOSE 8050 9108
