"""The registry's champion model, kept loaded in every bridge: poll `models:seq`, load, refuse safely.

The bridge loads the champion, checks it exactly as `model.store` does, and reports which model it
holds, its age, or why it refused one, on the pipeline-health panel and in Prometheus; scoring
with it is bridge/model_serving.py's. A champion that
cannot be used (corrupt text, another feature version, a missing file) is refused with the
reason, logged once, and the model loaded before stays; LightGBM is imported only once there is
a champion to load.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import redis

from common.keys import RedisKeys
from common.model_registry import SHADOW, ModelEntry, champion_of
from model.registry import ModelRegistry

logger = logging.getLogger(__name__)


def trained_at(entry: ModelEntry) -> float:
    """When the model was saved (its version starts with the UTC time), else when it was registered."""
    for text, fmt in ((entry.version[:16], "%Y%m%dT%H%M%SZ"), (entry.registered_at, "%Y-%m-%dT%H:%M:%S.%fZ")):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return time.time()


def _checked(key: str, raw: bytes | None, champion: ModelEntry) -> Any:
    """model.store.from_registry on the champion's stored bytes, read from `key` (ModelFileError)."""
    from model.features import FeatureConfig  # LightGBM and numpy only once a champion exists
    from model.store import from_registry

    return from_registry(raw, champion.version, champion.card, FeatureConfig())


class ModelWatcher:
    """Holds the champion (`model`, a model.store.LoadedModel, or None); `refresh()` at most every
    `interval_s` reads `models:seq` and re-reads the registry only when it moved.

    A new champion is loaded and checked on a thread of its own: importing LightGBM and parsing a
    model takes about a second, which the bridge's loop must not wait for (it would stop polling).
    The model in use changes only in refresh(), on the bridge's own thread.
    """

    def __init__(self, client: redis.Redis, keys: RedisKeys, interval_s: float = 1.0) -> None:
        self._client, self._keys, self._interval = client, keys, interval_s
        self._registry = ModelRegistry(client, keys)
        self._seq: Any = None  # the models:seq value last read
        self._next = 0.0
        self.model: Any = None  # model.store.LoadedModel (not imported here: LightGBM is loaded lazily)
        self.entry: ModelEntry | None = None
        self.shadow_entries: list[ModelEntry] = []  # the registry's shadow versions (bridge/model_shadow.py)
        self.refused: tuple[str, str] | None = None  # (version, why) of the champion not loaded
        self._want: ModelEntry | None = None  # the champion to load (None: the one held is right)
        self._loader: threading.Thread | None = None
        self._outcome: tuple[ModelEntry, Any, str | None, float] | None = None  # (entry, model, why, ms)

    def refresh(self, now: float) -> bool:
        """Take a finished load; poll when due. True when the registry changed (whatever the outcome)."""
        self._take()
        if now < self._next:
            return False
        self._next = now + self._interval
        seq = self._client.get(self._keys.models_seq)
        if seq is None or seq == self._seq:
            return False
        entries = self._registry.entries()
        self.shadow_entries = [e for e in entries.values() if e.state == SHADOW]
        champion = champion_of(entries)
        if champion is None:
            if self.entry is not None:
                logger.info("bridge: model registry has no champion; %s unloaded", self.entry.version)
            self.model, self.entry, self.refused, self._want = None, None, None, None
        elif self.entry is not None and champion.version == self.entry.version:
            self.refused, self._want = None, None  # back to the model it holds (a rollback)
        else:
            self._want = champion
        self._kick()
        self._seq = seq  # only now: a Redis error above means the next poll reads it all again
        return True

    def join(self, timeout_s: float = 60.0) -> None:
        """Wait for the loads in progress and take their outcome (tests; a bridge never waits)."""
        deadline = time.monotonic() + timeout_s
        while self._loader is not None and time.monotonic() < deadline:
            self._loader.join(max(0.0, deadline - time.monotonic()))
            self._take()

    def _kick(self) -> None:
        """Start loading the wanted champion unless a load runs (one at a time; _take starts the next)."""
        want = self._want
        if want is None or self._loader is not None:
            return
        key, raw = self._keys.model_file(want.version), self._registry.model_bytes(want.version)

        def load() -> None:
            t0 = time.perf_counter()
            try:
                model, why = _checked(key, raw, want), None
            except Exception as exc:  # whatever the model is, the bridge keeps running on the one it had
                model = None
                why = str(exc) if type(exc).__name__ == "ModelFileError" else f"{type(exc).__name__}: {exc}"
            self._outcome = (want, model, why, (time.perf_counter() - t0) * 1000)

        self._loader = threading.Thread(target=load, name="bridge-model-load", daemon=True)
        self._loader.start()

    def _take(self) -> None:
        """Apply a finished load if its model is still the one wanted, then start the next wanted one."""
        if self._loader is None:
            self._kick()  # a start that failed (Redis) is tried again here, not only on the next change
            return
        if self._loader.is_alive():
            return
        self._loader, outcome, self._outcome = None, self._outcome, None
        if outcome is not None and self._want is not None and outcome[0].version == self._want.version:
            self._want = None
            self._apply(*outcome)
        self._kick()  # the registry moved on while it loaded: load what it wants now

    def _apply(self, champion: ModelEntry, model: Any, why: str | None, ms: float) -> None:
        if why is not None:
            if self.refused != (champion.version, why):
                kept = self.entry.version if self.entry else "none"
                logger.error("bridge: champion model refused (keeping %s): %s", kept, why)
            self.refused = (champion.version, why)
            return
        self.model, self.entry, self.refused = model, champion, None
        logger.info("bridge: champion model %s loaded in %.0f ms", champion.version, ms)

    def age_s(self, now: float | None = None) -> float | None:
        """Seconds since the loaded champion was trained (None without one)."""
        if self.entry is None:
            return None
        return max(0.0, (time.time() if now is None else now) - trained_at(self.entry))

    def status(self) -> str:
        """One line for the pipeline-health panel."""
        if self.refused is not None:
            held = f"keeping {self.entry.version}" if self.entry else "no model loaded"
            return f"champion {self.refused[0]} refused ({held}): {self.refused[1]}"[:400]
        loading = f"; loading champion {self._want.version}" if self._want is not None else ""
        if self.entry is None:
            return f"no champion model{loading}"
        age = self.age_s() or 0.0
        trained = f"trained {age / 86400:.1f} days ago"
        return f"champion {self.entry.version} loaded, {trained}{loading}"
