"""Backtest worker settings: one frozen dataclass built once in main() from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.settings import ConfigError, RedisSettings, from_env, setting
from model.settings import ModelSettings


@dataclass(frozen=True)
class BacktestSettings(ModelSettings, RedisSettings):
    """Everything a backtest worker and the backtest CLI read from the environment."""

    default_range_s: int = setting(
        3600,
        "a backtest without --from/--to replays this many seconds up to now",
        env="BACKTEST_DEFAULT_RANGE_S",
    )
    warmup_max_s: int = setting(
        24 * 3600,
        "cap of the warm-up replayed before a range to rebuild per-card state (the warm-up is the "
        "longest rule window of the two rule sets, at least BACKTEST_WARMUP_MIN_S)",
        env="BACKTEST_WARMUP_MAX_S",
    )
    warmup_min_s: int = setting(
        3600, "warm-up replayed before a range at least (seconds)", env="BACKTEST_WARMUP_MIN_S"
    )
    batch_max: int = setting(5_000, "records per poll of the backtest consumer", env="BACKTEST_BATCH_MAX")
    prefetch: int = setting(
        2,
        "batches a backtest's Kafka thread reads ahead of the evaluation (0: none, one thread does both)",
        env="BACKTEST_PREFETCH",
    )
    max_eps: int = setting(
        0,
        "cap on the events per second a backtest replays, and reads for a draft's model scores (0: "
        "none): the knob that bounds a running backtest's share of the CPU the live bridges use "
        "(docs/backtest.md has the measured cost)",
        env="BACKTEST_MAX_EPS",
    )
    sample_max: int = setting(
        25, "added and removed alerts kept (each) with their explanations", env="BACKTEST_SAMPLE_MAX"
    )
    instances_max: int = setting(
        100_000,
        "fraud instances tracked for instance recall (further ones are counted as untracked)",
        env="BACKTEST_INSTANCES_MAX",
    )
    engine: str = setting(
        "auto",
        "`auto`: the bridge's native engine for both rule sets when it is built and accepts them (runs "
        "of at most 1,000,000 records), else the Python engine; `python`: always the Python engine",
        env="BACKTEST_ENGINE",
    )
    max_record_bytes: int = setting(
        65_536, "larger records are skipped and counted as invalid", env="BRIDGE_MAX_RECORD_BYTES"
    )

    def __post_init__(self) -> None:
        if self.default_range_s < 1 or self.warmup_max_s < 0 or self.warmup_min_s < 0:
            raise ConfigError("BACKTEST_DEFAULT_RANGE_S must be positive, the warm-ups not negative")
        if self.engine not in ("auto", "python"):
            raise ConfigError("BACKTEST_ENGINE must be auto or python")
        if self.max_eps < 0:
            raise ConfigError("BACKTEST_MAX_EPS must not be negative")
        if self.batch_max < 1 or self.prefetch < 0 or self.sample_max < 0 or self.instances_max < 0:
            raise ConfigError("BACKTEST_BATCH_MAX must be positive, the other bounds not negative")


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> BacktestSettings:
    """Build settings from `env` (default: the process environment); overrides win (None = not given)."""
    return from_env(BacktestSettings, env, **overrides)
