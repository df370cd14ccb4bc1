"""The model registry on real Redis: register, change state, roll back, audit; the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import redis

from common.alert_events import MODEL_CHANGED, OUTBOX_FIELD, decode_event
from common.keys import RedisKeys
from common.model_registry import CANDIDATE, CHAMPION, RETIRED, SHADOW
from model.features import FeatureConfig
from model.registry import ModelRegistry, NotRegistered, RegistryError
from model.store import CARD_FILE, MODEL_FILE, save
from model.train import fit_lightgbm

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
CONFIG = FeatureConfig()


def train_tiny(root: Path, seed: int) -> Path:
    """A real LightGBM model over the real feature layout, saved as `python -m model train` saves one."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, len(CONFIG.names())))
    y = x[:, 0] + rng.normal(scale=0.5, size=600) > 1.0
    metrics = {"auc_roc": 0.9 - seed / 100, "average_precision": 0.5, "card_precision_at_100": 0.2}
    card = {"train_range": ["2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z"], "metrics": metrics}
    out = save(root / f"s{seed}", fit_lightgbm(x, y), CONFIG, card)
    # save() names versions by the second: rename so several models of one test never collide
    renamed = out.with_name(f"{out.name}-{seed}")
    out.rename(renamed)
    card_data = json.loads((renamed / CARD_FILE).read_text())
    card_data["version"] = renamed.name
    (renamed / CARD_FILE).write_text(json.dumps(card_data))
    return renamed


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("registry-models")
    return [train_tiny(root, seed) for seed in (1, 2, 3)]


def register(reg: ModelRegistry, path: Path, user: str = "ann") -> str:
    card = json.loads((path / CARD_FILE).read_text())
    return reg.register((path / MODEL_FILE).read_text(), card, user).version


def outbox(client: redis.Redis, keys: RedisKeys) -> list[Any]:
    return [decode_event(fields[OUTBOX_FIELD.encode()]) for _, fields in client.xrange(keys.events_outbox)]


def test_register_promote_and_roll_back_twice(
    redis_client: redis.Redis, keys: RedisKeys, models: list[Path]
) -> None:
    reg = ModelRegistry(redis_client, keys)
    a, b, c = (register(reg, p) for p in models)
    assert {v: e.state for v, e in reg.entries().items()} == {a: CANDIDATE, b: CANDIDATE, c: CANDIDATE}
    assert reg.model_text(a) == (models[0] / MODEL_FILE).read_text()
    seq0 = int(redis_client.get(keys.models_seq))
    assert reg.set_state(a, CHAMPION, "root") == {a: CHAMPION}
    assert reg.set_state(b, SHADOW, "root", "trial week 49") == {b: SHADOW}
    assert reg.set_state(b, CHAMPION, "root") == {b: CHAMPION, a: RETIRED}
    assert reg.set_state(c, CHAMPION, "root") == {c: CHAMPION, b: RETIRED}
    assert int(redis_client.get(keys.models_seq)) == seq0 + 4  # bridges see every change
    assert reg.rollback("root", "c scores badly") == {b: CHAMPION, c: RETIRED}
    assert reg.rollback("root") == {a: CHAMPION, b: RETIRED}  # one further back, not back to c
    with pytest.raises(RegistryError, match="first champion"):
        reg.rollback("root")
    states = {v: e.state for v, e in reg.entries().items()}
    assert states == {a: CHAMPION, b: RETIRED, c: RETIRED}
    history = reg.history()
    assert [h["action"] for h in history[:3]] == ["rollback", "rollback", "state"]
    assert history[1] | {"when": "-"} == {
        "action": "rollback", "version": b, "from": RETIRED, "to": CHAMPION,
        "moved": {b: CHAMPION, c: RETIRED}, "who": "root", "when": "-", "comment": "c scores badly",
    }  # fmt: skip
    events = [e for e in outbox(redis_client, keys) if e.kind == MODEL_CHANGED]
    assert len(events) == 3 + 4 + 2  # three registrations, four changes, two rollbacks
    assert events[-1].subject == a and events[-1].after["moved"] == {a: CHAMPION, b: RETIRED}


def test_a_champion_twice_rolls_back_in_order_and_deleted_versions_are_skipped(
    redis_client: redis.Redis, keys: RedisKeys, models: list[Path]
) -> None:
    reg = ModelRegistry(redis_client, keys)
    a, b, c = (register(reg, p) for p in models)
    for version in (a, b, a):  # a, then b, then a again
        reg.set_state(version, CHAMPION, "root")
    assert reg.rollback("root") == {b: CHAMPION, a: RETIRED}
    assert reg.rollback("root") == {a: CHAMPION, b: RETIRED}  # two back: a's first time
    reg.set_state(c, CHAMPION, "root")
    with pytest.raises(RegistryError, match="champion: retire it before deleting"):
        reg.delete(c, "root")
    reg.delete(a, "root", "superseded")  # a is retired now: deletable, file and all
    assert a not in reg.entries() and redis_client.get(keys.model_file(a)) is None
    with pytest.raises(RegistryError, match="first champion"):  # a is gone: nothing before c
        reg.rollback("root")
    assert reg.history(1)[0] | {"when": "-"} == {
        "action": "deleted", "version": a, "from": RETIRED, "to": "", "moved": {}, "who": "root", "when": "-",
        "comment": "superseded",
    }  # fmt: skip
    with pytest.raises(NotRegistered):
        reg.delete(a, "root")


def test_refusals_change_nothing(redis_client: redis.Redis, keys: RedisKeys, models: list[Path]) -> None:
    reg = ModelRegistry(redis_client, keys)
    a = register(reg, models[0])
    before = (redis_client.hgetall(keys.models), redis_client.get(keys.models_seq))
    card = json.loads((models[0] / CARD_FILE).read_text())
    with pytest.raises(RegistryError, match="already registered"):
        reg.register((models[0] / MODEL_FILE).read_text(), card, "ann")
    other = json.loads((models[1] / CARD_FILE).read_text())
    with pytest.raises(RegistryError, match="does not match the checksum"):
        reg.register((models[0] / MODEL_FILE).read_text(), other, "ann")
    with pytest.raises(NotRegistered):
        reg.set_state("nope", SHADOW, "root")
    with pytest.raises(RegistryError, match="already candidate"):
        reg.set_state(a, CANDIDATE, "root")
    with pytest.raises(RegistryError, match="user must be"):
        reg.set_state(a, SHADOW, " ")
    with pytest.raises(RegistryError, match="comment must be"):
        reg.set_state(a, SHADOW, "root", "x" * 501)
    assert (redis_client.hgetall(keys.models), redis_client.get(keys.models_seq)) == before


def test_an_unreadable_entry_is_skipped_not_fatal(
    redis_client: redis.Redis, keys: RedisKeys, models: list[Path]
) -> None:
    reg = ModelRegistry(redis_client, keys)
    a = register(reg, models[0])
    redis_client.hset(keys.models, "hand-edit", b"{oops")
    assert set(reg.entries()) == {a}


def cli(args: list[str], prefix: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix}
    return subprocess.run(
        [sys.executable, "-m", "model", "registry", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_cli_registers_promotes_lists_and_refuses(
    redis_prefix: str,
    redis_url: str,
    redis_client: redis.Redis,
    keys: RedisKeys,
    models: list[Path],
    tmp_path: Path,
) -> None:
    done = cli(["register", str(models[0]), "--by", "ci", "--comment", "week 48"], redis_prefix, redis_url)
    assert done.returncode == 0, done.stderr
    version = json.loads(done.stdout)["registered"]
    assert version == models[0].name
    done = cli(["promote", version, "champion", "--by", "ci"], redis_prefix, redis_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"moved": {version: CHAMPION}}
    listed = json.loads(cli(["list"], redis_prefix, redis_url).stdout)
    assert [(m["version"], m["state"]) for m in listed] == [(version, CHAMPION)]
    assert listed[0]["metrics"]["auc_roc"] == pytest.approx(0.89)
    # a corrupt model directory is refused as the bridge would refuse it: exit 2, nothing stored
    bad = tmp_path / models[1].name
    bad.mkdir()
    (bad / CARD_FILE).write_bytes((models[1] / CARD_FILE).read_bytes())
    (bad / MODEL_FILE).write_text((models[1] / MODEL_FILE).read_text()[:-200])
    refused = cli(["register", str(bad)], redis_prefix, redis_url)
    assert refused.returncode == 2 and "checksum" in refused.stderr
    refused = cli(["promote", "nope", "shadow"], redis_prefix, redis_url)
    assert refused.returncode == 2 and "no model version 'nope'" in refused.stderr
    assert set(ModelRegistry(redis_client, keys).entries()) == {version}
    history = json.loads(cli(["history"], redis_prefix, redis_url).stdout)
    assert [(h["action"], h["who"]) for h in history] == [("state", "ci"), ("registered", "ci")]
    assert msgspec.json.decode(redis_client.lindex(keys.models_history, 1))["comment"] == "week 48"
