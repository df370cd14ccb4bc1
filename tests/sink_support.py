"""Test support for RedisSink: one synchronous commit (the bridge itself pipelines send and confirm)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.resp import Command
from bridge.sink import RedisSink


def commit(sink: RedisSink, plan: Sequence[Command], expected: Mapping[int, int | None]) -> None:
    """Apply `plan` in MULTI/EXEC if `expected` offsets still hold; raise Fenced if they do not."""
    sink.send_commit(plan, expected)
    sink.confirm()
