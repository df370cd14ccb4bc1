"""Every bridge picks up the registry's champion without a restart, and refuses an unusable one safely."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import redis

from bridge import model_watch
from bridge.model_watch import ModelWatcher
from common.keys import RedisKeys
from common.model_registry import CHAMPION, RETIRED
from model.features import FeatureConfig
from model.registry import ModelRegistry
from model.store import CARD_FILE, MODEL_FILE
from tests.conftest import unique
from tests.test_model_registry_store import register, train_tiny

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
ROW = np.zeros((1, len(FeatureConfig().names())))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("watch-models")
    return [train_tiny(root, seed) for seed in (4, 5, 6)]


def poll(watcher: ModelWatcher) -> bool:
    """One due poll, then the load it started taken (a bridge takes it at a later poll instead)."""
    watcher._next = 0.0  # due now: the interval is the bridge's cadence, not what is tested here
    changed = watcher.refresh(time.monotonic())
    watcher.join()
    return changed


def test_the_champion_is_loaded_refusals_keep_the_old_one(
    redis_client: redis.Redis, keys: RedisKeys, models: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    reg, watcher = ModelRegistry(redis_client, keys), ModelWatcher(redis_client, keys)
    assert not poll(watcher) and watcher.status() == "no champion model"
    a, b, c = (register(reg, p) for p in models)
    reg.set_state(a, CHAMPION, "root")
    assert poll(watcher)
    assert watcher.entry is not None and watcher.entry.version == a
    assert watcher.model.booster.predict(ROW).shape == (1,)  # a real, usable LightGBM model
    assert watcher.status().startswith(f"champion {a} loaded")
    assert not poll(watcher)  # nothing changed: one GET, no reload
    # b's stored text corrupted: b is refused with the reason, a stays loaded and in use
    text = redis_client.get(keys.model_file(b))
    redis_client.set(keys.model_file(b), text[: len(text) // 2])
    caplog.set_level("ERROR", logger="bridge.model_watch")
    reg.set_state(b, CHAMPION, "root")
    assert poll(watcher)
    assert watcher.entry.version == a and watcher.refused is not None and watcher.refused[0] == b
    assert "checksum" in watcher.refused[1]
    assert watcher.status().startswith(f"champion {b} refused (keeping {a})")
    reg.set_state(c, "shadow", "root")  # another change while b is still the refused champion
    assert poll(watcher)
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1  # said once, not per poll
    # rolling back to a clears the refusal; a champion whose file vanished is refused too
    reg.rollback("root", "b is corrupt")
    assert poll(watcher) and watcher.refused is None and watcher.entry.version == a
    redis_client.delete(keys.model_file(c))
    reg.set_state(c, CHAMPION, "root")
    assert poll(watcher) and watcher.entry.version == a and "not in Redis" in watcher.refused[1]
    reg.set_state(c, RETIRED, "root")  # no champion at all: nothing loaded
    assert poll(watcher) and watcher.model is None and watcher.status() == "no champion model"


def test_a_load_never_holds_up_the_bridge_loop(
    redis_client: redis.Redis, keys: RedisKeys, models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll returns at once: the old model stays in use, and the health line says what is loading."""
    gate = threading.Event()  # holds the real load of b until the registry has moved on

    def held(key: str, raw: bytes | None, champion: Any) -> Any:
        if champion.version == b:
            assert gate.wait(30)
        return real(key, raw, champion)

    real = model_watch._checked
    monkeypatch.setattr(model_watch, "_checked", held)
    reg, watcher = ModelRegistry(redis_client, keys), ModelWatcher(redis_client, keys)
    a, b = register(reg, models[0]), register(reg, models[1])
    reg.set_state(a, CHAMPION, "root")
    poll(watcher)
    reg.set_state(b, CHAMPION, "root")
    watcher._next = 0.0
    assert watcher.refresh(time.monotonic())
    assert watcher.entry.version == a and watcher.status().endswith(f"; loading champion {b}")
    reg.set_state(a, CHAMPION, "root", "changed our mind")  # while b loads: b's outcome is dropped
    watcher._next = 0.0
    watcher.refresh(time.monotonic())
    assert "loading" not in watcher.status()  # nothing wanted any more; b's load still runs
    gate.set()
    watcher.join()
    assert watcher.entry.version == a and watcher.refused is None
    assert watcher.status().startswith(f"champion {a} loaded") and "loading" not in watcher.status()


def test_a_champion_file_that_is_not_text_is_refused_not_fatal(
    redis_client: redis.Redis, keys: RedisKeys, models: list[Path]
) -> None:
    reg, watcher = ModelRegistry(redis_client, keys), ModelWatcher(redis_client, keys)
    a = register(reg, models[0])
    redis_client.set(keys.model_file(a), b"\xff\xfe tree")
    reg.set_state(a, CHAMPION, "root")
    assert poll(watcher) and watcher.model is None and "not UTF-8" in watcher.refused[1]


def test_a_champion_built_for_other_features_is_refused(
    redis_client: redis.Redis, keys: RedisKeys, models: list[Path]
) -> None:
    reg, watcher = ModelRegistry(redis_client, keys), ModelWatcher(redis_client, keys)
    card = json.loads((models[0] / CARD_FILE).read_text())
    card["feature_version"] = "pit-0"  # e.g. registered by an older trainer through the API's store
    reg.register((models[0] / MODEL_FILE).read_text(), card, "ann")
    reg.set_state(card["version"], CHAMPION, "root")
    assert poll(watcher)
    assert watcher.model is None and "feature version 'pit-0'" in watcher.refused[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_running_bridge_loads_a_promoted_champion_within_seconds(
    kafka_bootstrap: str, redis_url: str, topic: str, dlq_topic: str, alerts_topic: str,
    redis_prefix: str, redis_client: redis.Redis, keys: RedisKeys, models: list[Path],
) -> None:  # fmt: skip
    reg = ModelRegistry(redis_client, keys)
    a, b = register(reg, models[0]), register(reg, models[1])
    reg.set_state(a, CHAMPION, "root")
    port, instance = free_port(), unique("bridge-model")
    env = {
        **os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC": topic,
        "KAFKA_DLQ_TOPIC": dlq_topic, "KAFKA_ALERTS_TOPIC": alerts_topic, "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix, "BRIDGE_GROUP_ID": unique("g-model"),
        "BRIDGE_INSTANCE_ID": instance, "BRIDGE_HEARTBEAT_S": "0.2",
        "BRIDGE_METRICS_PORT": str(port), "LOG_LEVEL": "INFO",
    }  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "bridge"], cwd=ROOT, env=env, stderr=subprocess.PIPE)
    beat = keys.bridge(instance)

    def model_line(want: str, timeout_s: float) -> None:
        t0, line = time.monotonic(), ""
        while time.monotonic() - t0 < timeout_s:
            line = (redis_client.hget(beat, "model") or b"").decode()
            if line.startswith(want):
                return
            assert proc.poll() is None, "the bridge exited"
            time.sleep(0.05)
        raise AssertionError(f"bridge never reported {want!r}; last: {line!r}")

    try:
        model_line(f"champion {a} loaded", 60)  # at start-up
        reg.set_state(b, CHAMPION, "root", "weekly retrain")
        model_line(f"champion {b} loaded", 20)  # no restart: the next polls pick it up (bench: how fast)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    age = next(float(x.split()[1]) for x in metrics.splitlines() if x.startswith("bridge_model_age_seconds "))
    assert 0 <= age < 3600  # trained by this test module moments ago
    assert "bridge_model_refused 0.0" in metrics
    assert msgspec.json.decode(redis_client.lindex(keys.models_history, 0))["comment"] == "weekly retrain"
