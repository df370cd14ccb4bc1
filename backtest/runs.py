"""Backtest runs in Redis (their own namespace): submit, queue, claim, progress, cancel, results, delete."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import redis

from common.keys import BACKTEST_RUNS_MAX, RedisKeys

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


class RunNotFound(LookupError):
    """No run with this id (never made, deleted, or dropped as one of the oldest)."""


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    return raw.decode() if isinstance(raw, bytes) else raw


def _valid_id(run_id: str) -> bool:
    return 0 < len(run_id) <= 32 and run_id.isalnum()


class RunStore:
    """The runs of one deployment. Submitters push ids on the queue; each worker pops one at a time."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, keep: int = BACKTEST_RUNS_MAX) -> None:
        self._r, self._keys, self._keep = client, keys, keep

    # --- submitters (CLI, API) ----------------------------------------------------------------
    def submit(
        self, draft: dict[str, Any], from_ms: int | None, to_ms: int | None, by: str, model: str | None = None
    ) -> str:
        """Queue a run of `draft` (a validated rules document) over [from_ms, to_ms) record time;
        `model`: the registered version whose scores `model_score` reads (default: the champion)."""
        run_id = secrets.token_hex(8)
        now = int(time.time() * 1000)
        spec: dict[str, Any] = {"draft": draft, "from_ms": from_ms, "to_ms": to_ms}
        if model:
            spec["model"] = model
        fields: dict[str | bytes, str | bytes] = {
            "spec": json.dumps(spec),
            "status": QUEUED,
            "by": by,
            "created_ms": str(now),
        }
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(self._keys.backtest_run(run_id), mapping=fields)  # type: ignore[arg-type]
            pipe.zadd(self._keys.backtest_runs, {run_id: now})
            pipe.lpush(self._keys.backtest_queue, run_id)
            pipe.execute()
        self._trim()
        return run_id

    def _trim(self) -> None:
        """Delete the oldest runs beyond `keep` (a worker running one of them notices and stops)."""
        old = self._r.zrange(self._keys.backtest_runs, 0, -(self._keep + 1))
        for raw in old:
            self.delete(_text(raw))  # type: ignore[arg-type]

    def get(self, run_id: str) -> dict[str, Any]:
        """One run: id, status, by, created_ms, spec (from_ms, to_ms, draft), progress, error."""
        raw = self._r.hgetall(self._keys.backtest_run(run_id)) if _valid_id(run_id) else {}
        if not raw:
            raise RunNotFound(f"no backtest run {run_id!r}")
        h = {_text(k): _text(v) for k, v in raw.items()}
        return {
            "id": run_id,
            "status": h.get("status", ""),
            "by": h.get("by", ""),
            "created_ms": int(h.get("created_ms") or 0),
            "spec": json.loads(h["spec"]) if h.get("spec") else {},
            "progress": json.loads(h["progress"]) if h.get("progress") else None,
            "error": h.get("error") or None,
            "cancel_requested": h.get("cancel") == "1",
        }

    def runs(self) -> list[dict[str, Any]]:
        """Every run kept, newest first (without the draft documents)."""
        out = []
        for raw in self._r.zrevrange(self._keys.backtest_runs, 0, -1):
            try:
                run = self.get(_text(raw))  # type: ignore[arg-type]
            except RunNotFound:
                continue
            run["spec"] = {k: v for k, v in run["spec"].items() if k != "draft"}
            out.append(run)
        return out

    def result(self, run_id: str) -> dict[str, Any] | None:
        """The finished run's result, or None while it has none."""
        if not _valid_id(run_id):
            raise RunNotFound(f"no backtest run {run_id!r}")
        raw = self._r.get(self._keys.backtest_result(run_id))
        return json.loads(raw) if raw is not None else None

    def cancel(self, run_id: str) -> str:
        """Ask a run to stop: a queued one is cancelled at once, a running one within a second."""
        status = self.get(run_id)["status"]
        key = self._keys.backtest_run(run_id)
        if status == QUEUED:
            with self._r.pipeline(transaction=True) as pipe:
                pipe.lrem(self._keys.backtest_queue, 0, run_id)
                pipe.hset(key, mapping={"status": CANCELLED, "cancel": "1"})
                pipe.execute()
            return CANCELLED
        if status == RUNNING:
            self._r.hset(key, "cancel", "1")
        return status

    def delete(self, run_id: str) -> bool:
        """Forget a run and its result (a running one is also cancelled); True if it existed."""
        if not _valid_id(run_id):
            return False
        with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(self._keys.backtest_run(run_id), self._keys.backtest_result(run_id))
            pipe.zrem(self._keys.backtest_runs, run_id)
            pipe.lrem(self._keys.backtest_queue, 0, run_id)
            gone = pipe.execute()
        return bool(gone[0] or gone[1])

    # --- workers --------------------------------------------------------------------------------
    def claim(self, timeout_s: float) -> str | None:
        """Pop the oldest queued run (waiting up to timeout_s) and mark it running; None if none."""
        got = self._r.brpop([self._keys.backtest_queue], timeout=timeout_s)
        if not got:
            return None
        run_id = _text(got[1])
        key = self._keys.backtest_run(run_id)
        # Only a run still queued starts (cancelled or deleted meanwhile: skipped).
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hget(key, "status")
            pipe.hget(key, "cancel")
            status, cancel = pipe.execute()
        if _text(status) != QUEUED or _text(cancel) == "1":
            return None
        self._r.hset(key, mapping={"status": RUNNING, "started_ms": str(int(time.time() * 1000))})
        return run_id

    def report(self, run_id: str, progress: dict[str, Any]) -> bool:
        """Write progress; return True when the run should stop (cancel asked, or the run deleted)."""
        key = self._keys.backtest_run(run_id)
        with self._r.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.hget(key, "cancel")
            exists, cancel = pipe.execute()
        if exists:
            self._r.hset(key, "progress", json.dumps(progress))
        return not exists or _text(cancel) == "1"

    def finish(
        self, run_id: str, status: str, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        """Record the end of a run (unless it was deleted meanwhile) and its result if any."""
        key = self._keys.backtest_run(run_id)
        if not self._r.exists(key):
            return
        fields: dict[str | bytes, str | bytes] = {
            "status": status,
            "finished_ms": str(int(time.time() * 1000)),
        }
        if error:
            fields["error"] = error[:1000]
        with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            if result is not None:
                pipe.set(self._keys.backtest_result(run_id), json.dumps(result))
            pipe.execute()
