"""Settings every service shares, read once from the environment by each service's main()."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
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


@dataclass(frozen=True)
class CommonSettings:
    """Where Kafka and Redis are, and the names every service agrees on."""

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic: str = "transactions"
    kafka_dlq_topic: str = "transactions.dlq"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "fraud:"
