"""Settings every service shares, read once from the environment by each service's main()."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _parse(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


def from_env(cls: type[T], env: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Build a frozen settings dataclass: explicit override > environment > default.

    Each field may declare its variable as ``metadata={"env": "NAME"}``; otherwise the
    upper-cased field name is used.
    """
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in overrides and overrides[f.name] is not None:
            values[f.name] = overrides[f.name]
            continue
        var = f.metadata.get("env", f.name.upper())
        if var in source:
            kind = (
                f.type
                if isinstance(f.type, type)
                else {"int": int, "float": float, "bool": bool, "str": str}[str(f.type)]
            )
            values[f.name] = _parse(var, source[var], kind)
    return cls(**values)


def setting(default: Any, doc: str, *, env: str | None = None, shown: str | None = None) -> Any:
    """Declare one settings field with the text the generated configuration table shows.

    `env` names its variable (default: the upper-cased field name); `shown` replaces the default
    in the table where the real default depends on the machine (a path, a CPU count).
    """
    meta: dict[str, str] = {"doc": doc}
    if env is not None:
        meta["env"] = env
    if shown is not None:
        meta["shown"] = shown
    return field(default=default, metadata=meta)


# The connection fields services share are declared once, here; each service's settings inherit
# the ones it uses (the dashboard has no Kafka, the producer no Redis).
@dataclass(frozen=True)
class KafkaSettings:
    """Where Kafka is and which topic carries the transactions."""

    kafka_bootstrap_servers: str = setting("127.0.0.1:9092", "Kafka bootstrap servers")
    kafka_topic: str = setting("transactions", "the transaction topic")


@dataclass(frozen=True)
class RedisSettings:
    """Where Redis is and the namespace of every key."""

    redis_url: str = setting("redis://127.0.0.1:6379/0", "Redis")
    redis_key_prefix: str = setting(
        "fraud:", "namespace of every key (several deployments can share one Redis)"
    )
