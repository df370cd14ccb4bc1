"""Analyst actions on alerts with optimistic concurrency (WATCH/MULTI on the alert hash)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import redis
from redis.typing import EncodableT

from common.keys import RedisKeys
from dashapp.store import outbox_events
from dashapp.store._codec import load_json
from dashapp.store.alert_rows import (
    OPEN_STATUSES,
    RESOLVED_STATUSES,
    ROW_FIELDS,
    AlertRow,
    row_from_fields,
    valid_alert_id,
)
from dashapp.store.errors import AlertNotFound, InvalidAction, VersionConflict
from dashapp.store.rule_quality import resolution_writes

logger = logging.getLogger(__name__)

MAX_NOTE_CHARS = 1000
MAX_USER_CHARS = 100
_ATTEMPTS = 5  # WATCH retries when an unrelated write (e.g. a bridge replay) touched the hash
_TARGET = {
    "acknowledge": "acknowledged",
    "assign_to_me": "assigned",
    "resolve_fraud": "resolved_fraud",
    "resolve_false_positive": "resolved_false_positive",
    "reopen": "acknowledged",
}
ACTIONS = tuple(_TARGET)
_WORKFLOW_FIELDS = ("status", "assignee", "version", "updated_at", "updated_by", "note")


MAX_BULK = 5000


@dataclass(frozen=True)
class BulkResult:
    """What one bulk action did: the updated rows, and the alerts left alone with the reason."""

    action: str
    done: tuple[AlertRow, ...]
    conflicts: tuple[tuple[str, str], ...]  # (alert_id, message): changed by someone meanwhile
    refused: tuple[tuple[str, str], ...]  # (alert_id, message): gone, or the status forbids it

    def summary(self) -> str:
        """One line for the analyst, e.g. "12 acknowledged, 2 conflicts, 1 refused"."""
        verb = _TARGET[self.action].replace("_", " ") if self.action != "reopen" else "reopened"
        return f"{len(self.done)} {verb}, {len(self.conflicts)} conflicts, {len(self.refused)} refused"


def _check_args(action: str, user: str, note: str) -> None:
    if action not in _TARGET:
        raise InvalidAction(f"unknown action {action!r:.40}; known: {', '.join(ACTIONS)}")
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_CHARS:
        raise InvalidAction("user must be a non-empty name")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise InvalidAction(f"note is too long (max {MAX_NOTE_CHARS} characters)")


def next_state(row: AlertRow, action: str, user: str) -> tuple[str, str]:
    """Return (status, assignee) after ``action``; raise InvalidAction if the status forbids it."""
    status = row.status
    if action == "acknowledge" and status != "new":
        raise InvalidAction(f"alert is already {status} (acknowledge needs a new alert)")
    if action == "assign_to_me":
        if status not in OPEN_STATUSES:
            raise InvalidAction(f"alert is {status}; reopen it before assigning")
        if status == "assigned" and row.assignee == user:
            raise InvalidAction("alert is already assigned to you")
        return "assigned", user
    if action.startswith("resolve_") and status not in OPEN_STATUSES:
        raise InvalidAction(f"alert is already {status}")
    if action == "reopen":
        if status not in RESOLVED_STATUSES:
            raise InvalidAction(f"alert is {status}; only resolved alerts can be reopened")
        return ("assigned" if row.assignee else "acknowledged"), row.assignee
    return _TARGET[action], row.assignee


def transition(
    keys: RedisKeys, row: AlertRow, action: str, user: str, *, note: str, now_ms: int
) -> tuple[AlertRow, list[tuple[EncodableT, ...]]]:
    """The row after ``action`` and the writes that store it (one MULTI, after a version check).

    Besides the record and its history, the writes move the alert between the status and
    assignee search indexes (common/keys.py), so search always sees the stored workflow state.
    """
    status, assignee = next_state(row, action, user)
    new = msgspec.structs.replace(
        row, status=status, assignee=assignee, version=row.version + 1, updated_at=now_ms,
        updated_by=user, note=note or row.note,
    )  # fmt: skip
    event = {"at": now_ms, "by": user, "action": action, "from_status": row.status,
             "to_status": status, "note": note, "version": new.version}  # fmt: skip
    aid, at = row.alert_id, row.event_ms
    fields = [x for f in _WORKFLOW_FIELDS for x in (f, getattr(new, f))]
    out: list[tuple[EncodableT, ...]] = [
        ("HSET", keys.alert(aid), *fields),
        ("RPUSH", keys.alert_history(aid), json.dumps(event)),
    ]
    if status != row.status:
        out += [
            ("ZREM", keys.alerts_by_status(row.status), aid),
            ("ZADD", keys.alerts_by_status(status), at, aid),
        ]
    if assignee != row.assignee:
        if row.assignee:
            out.append(("ZREM", keys.alerts_by_assignee(row.assignee), aid))
        out.append(("ZADD", keys.alerts_by_assignee(assignee), at, aid))
    # "my queue": the open alerts of each assignee, so the queue never scans resolved work
    if (
        row.assignee
        and row.status in OPEN_STATUSES
        and (assignee != row.assignee or status not in OPEN_STATUSES)
    ):
        out.append(("ZREM", keys.alert_queue(row.assignee), aid))
    if assignee and status in OPEN_STATUSES:
        out.append(("ZADD", keys.alert_queue(assignee), at, aid))
    if status != "new":
        out.append(("ZREM", keys.banner, aid))
    out += resolution_writes(keys, row, new)  # rule quality (dashapp/store/rule_quality.py)
    out.append(("INCR", keys.seq))
    return new, out


def conflict(row: AlertRow, expected_version: int) -> VersionConflict:
    """Build the error telling the analyst who changed the alert under them."""
    if row.version <= 1:  # untouched since the bridge raised it: the caller's version is bogus
        message = f"alert {row.alert_id} is at version {row.version}, not {expected_version}; reload it"
        return VersionConflict(message, current=row, changed_by="", current_version=row.version)
    who = row.updated_by or "another analyst"
    return VersionConflict(
        f"alert {row.alert_id} was changed by {who} (now {row.status}, version {row.version}; "
        f"you had version {expected_version}); review it and try again",
        current=row,
        changed_by=row.updated_by,
        current_version=row.version,
    )


class AlertWorkflow:
    """Apply analyst actions to alert records; every change bumps `seq` so all dashboards refresh."""

    def __init__(
        self, redis_client: redis.Redis, keys: RedisKeys, clock: Callable[[], float] = time.time
    ) -> None:
        self._r = redis_client
        self._keys = keys
        self._clock = clock

    def get(self, alert_id: str) -> AlertRow:
        """Return one alert row; raise AlertNotFound."""
        if not valid_alert_id(alert_id):
            raise AlertNotFound(str(alert_id)[:140])
        row = row_from_fields(alert_id, self._r.hmget(self._keys.alert(alert_id), ROW_FIELDS))
        if row is None:
            raise AlertNotFound(alert_id)
        return row

    def act(self, alert_id: str, action: str, user: str, expected_version: int, note: str = "") -> AlertRow:
        """Apply ``action`` if the alert is still at ``expected_version``; return the updated row.

        Raises AlertNotFound, InvalidAction, or VersionConflict (with the current row).
        """
        _check_args(action, user, note)
        if not valid_alert_id(alert_id):
            raise AlertNotFound(str(alert_id)[:140])
        key = self._keys.alert(alert_id)
        for _ in range(_ATTEMPTS):
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    row = row_from_fields(alert_id, pipe.hmget(key, ROW_FIELDS))
                    if row is None:
                        raise AlertNotFound(alert_id)
                    if row.version != expected_version:
                        raise conflict(row, expected_version)
                    updated = self._apply(pipe, row, action, user, note)
                    pipe.execute()
                except redis.WatchError:
                    continue  # re-read: a version change now surfaces as VersionConflict
            logger.info("workflow: %s alert_id=%s by=%s version=%d", action, alert_id, user, updated.version)
            return updated
        raise conflict(self.get(alert_id), expected_version)

    def _apply(
        self, pipe: redis.client.Pipeline, row: AlertRow, action: str, user: str, note: str
    ) -> AlertRow:
        """Queue the MULTI that moves ``row`` one step; return the row as it will be stored."""
        new, writes = transition(self._keys, row, action, user, note=note, now_ms=int(self._clock() * 1000))
        pipe.multi()
        for command in writes:
            pipe.execute_command(*command)
        # the outbox entry rides in the same MULTI: no change is stored without its event (outbox/)
        pipe.execute_command(
            *outbox_events.xadd(self._keys, outbox_events.workflow_event(row, new, action, note))
        )
        return new

    def act_many(
        self, targets: Sequence[tuple[str, int]], action: str, user: str, note: str = ""
    ) -> BulkResult:
        """Apply ``action`` to each (alert_id, expected_version) as act() does, one note for all.

        Each alert is version-checked and attributed on its own; a conflict or a refused transition
        on one alert does not stop the others. Raises InvalidAction for bad arguments only.
        """
        _check_args(action, user, note)
        if len(targets) > MAX_BULK:
            raise InvalidAction(f"too many alerts for one bulk action (max {MAX_BULK})")
        done: list[AlertRow] = []
        conflicts: list[tuple[str, str]] = []
        refused: list[tuple[str, str]] = []
        for alert_id, version in dict(targets).items():  # an id listed twice is acted on once
            try:
                done.append(self.act(alert_id, action, user, version, note))
            except VersionConflict as exc:
                conflicts.append((alert_id, str(exc)))
            except (InvalidAction, AlertNotFound) as exc:
                refused.append((alert_id, str(exc)))
        result = BulkResult(action, tuple(done), tuple(conflicts), tuple(refused))
        logger.info("workflow: bulk %s by=%s %s", action, user, result.summary())
        return result

    def history(self, alert_id: str) -> list[dict[str, object]]:
        """Return the alert's workflow events, oldest first (garbage entries skipped)."""
        if not valid_alert_id(alert_id):
            return []
        key = self._keys.alert_history(alert_id)
        events = (load_json(raw, key=key) for raw in self._r.lrange(key, 0, -1))
        return [e for e in events if isinstance(e, dict)]
