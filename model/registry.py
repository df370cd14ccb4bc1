"""The model registry in Redis: register, change state, roll back and delete model versions, each audited.

Every change is one MULTI, WATCHed on the entries and the champion history: the entries, the
history entry, the `model.changed` outbox event and the `models:seq` bump land together or not at
all. Bridges watch `models:seq` and load the champion's file from Redis (bridge/model_watch.py), so
a model reaches every bridge without a shared disk. Allowed changes: common/model_registry.py.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
import redis

from common.alert_events import MODEL_CHANGED, OUTBOX_FIELD, encode_event, make_event
from common.keys import AUDIT_MAX, RedisKeys
from common.model_registry import (
    CANDIDATE,
    CHAMPION,
    RETIRED,
    ModelEntry,
    TransitionError,
    decode_entry,
    encode_entry,
    plan_change,
    rollback_target,
)

MAX_COMMENT = 500
MAX_MODEL_BYTES = 64 * 1024 * 1024  # a LightGBM text model of the handbook's size is ~0.3-3 MB
CHAMPIONS_MAX = 1_000  # champion history kept (rollback steps)
_ATTEMPTS = 5
Write = Callable[[redis.client.Pipeline, dict[str, ModelEntry], list[str]], Any]


class _Change(NamedTuple):
    """What one change did, for the audit and the event."""

    action: str
    version: str
    before: str
    after: str
    moves: Mapping[str, str]


class RegistryError(ValueError):
    """A registry request refused: bad argument, unknown version, or a change not allowed."""


class NotRegistered(RegistryError, LookupError):
    """No such model version."""


def _iso(epoch_s: float) -> str:
    stamp = datetime.fromtimestamp(epoch_s, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _check(user: str, comment: str) -> None:
    if not isinstance(user, str) or not user.strip():
        raise RegistryError("user must be a non-empty name")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise RegistryError(f"comment must be text of at most {MAX_COMMENT} characters")


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class ModelRegistry:
    """Model versions under RedisKeys.models, model_file(v), models_champions, models_history, models_seq."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, clock: Callable[[], float] = time.time) -> None:
        self._r, self._keys, self._clock = client, keys, clock
        self.client, self.keys = client, keys  # for the stores beside it (drift checks)

    # --- reads ------------------------------------------------------------------------------------
    def entries(self) -> dict[str, ModelEntry]:
        """Every registered version (an unreadable entry is skipped: the history says what happened)."""
        return _decode_all(self._r.hgetall(self._keys.models))

    def model_bytes(self, version: str) -> bytes | None:
        """The stored model file as bytes (the bridge decodes and checks it where a failure is a refusal)."""
        raw = self._r.get(self._keys.model_file(version))
        return raw.encode() if isinstance(raw, str) else raw

    def model_text(self, version: str) -> str | None:
        raw = self.model_bytes(version)
        try:
            return None if raw is None else raw.decode()
        except UnicodeDecodeError:
            raise RegistryError(f"model {version}: the stored file is not UTF-8 text (corrupt)") from None

    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first: {action, version, from, to, moved, who, when, comment?}."""
        out = []
        for item in self._r.lrange(self._keys.models_history, 0, max(1, min(limit, AUDIT_MAX)) - 1):
            try:
                out.append(msgspec.json.decode(item, type=dict[str, Any]))
            except msgspec.DecodeError:
                continue
        return out

    # --- changes ----------------------------------------------------------------------------------
    def register(self, text: str, card: Mapping[str, Any], user: str, comment: str = "") -> ModelEntry:
        """Store a saved model (its text and card, checked by the caller with model.store) as a candidate."""
        _check(user, comment)
        version = card.get("version")
        if not isinstance(version, str) or not version or len(version) > 100:
            raise RegistryError("the model card has no version (save it with model.store.save)")
        data = text.encode()
        if len(data) > MAX_MODEL_BYTES:
            raise RegistryError(f"model {version}: {len(data):,} bytes, over the {MAX_MODEL_BYTES:,} limit")
        digest = hashlib.sha256(data).hexdigest()
        if card.get("model_sha256") != digest:
            raise RegistryError(f"model {version}: the text does not match the checksum in its card")
        now = _iso(self._clock())
        entry = ModelEntry(
            version=version, state=CANDIDATE, sha256=digest, size=len(data), registered_by=user,
            registered_at=now, changed_by=user, changed_at=now, comment=comment, card=dict(card),
        )  # fmt: skip

        def write(pipe: redis.client.Pipeline, entries: dict[str, ModelEntry], _: list[str]) -> None:
            if version in entries:
                raise RegistryError(f"model {version} is already registered ({entries[version].state})")
            pipe.multi()
            pipe.set(self._keys.model_file(version), data)
            pipe.hset(self._keys.models, version, encode_entry(entry))
            self._record(
                pipe, _Change("registered", version, "", CANDIDATE, {version: CANDIDATE}), user, comment
            )

        self._change(write)
        return entry

    def set_state(self, version: str, target: str, user: str, comment: str = "") -> dict[str, str]:
        """Move `version` to `target`; return every version moved (a new champion retires the old)."""
        _check(user, comment)

        def write(
            pipe: redis.client.Pipeline, entries: dict[str, ModelEntry], _: list[str]
        ) -> dict[str, str]:
            if version not in entries:
                raise NotRegistered(f"no model version {version!r:.80} is registered")
            try:
                moves = plan_change(entries, version, target)
            except TransitionError as exc:
                raise RegistryError(str(exc)) from None
            self._apply(pipe, entries, moves, user, comment)
            if target == CHAMPION:  # the champion history: what rollback walks back along
                pipe.rpush(self._keys.models_champions, version)
                pipe.ltrim(self._keys.models_champions, -CHAMPIONS_MAX, -1)
            self._record(
                pipe, _Change("state", version, entries[version].state, target, moves), user, comment
            )
            return moves

        return self._change(write)

    def rollback(self, user: str, comment: str = "") -> dict[str, str]:
        """Make the champion before the current one champion again; the current one is retired."""
        _check(user, comment)

        def write(
            pipe: redis.client.Pipeline, entries: dict[str, ModelEntry], history: list[str]
        ) -> dict[str, str]:
            try:
                target, keep = rollback_target(entries, history)
                moves = plan_change(entries, target, CHAMPION)
            except TransitionError as exc:
                raise RegistryError(str(exc)) from None
            self._apply(pipe, entries, moves, user, comment)
            pipe.ltrim(self._keys.models_champions, 0, keep - 1)  # a second rollback goes one further back
            change = _Change("rollback", target, entries[target].state, CHAMPION, moves)
            self._record(pipe, change, user, comment)
            return moves

        return self._change(write)

    def delete(self, version: str, user: str, comment: str = "") -> None:
        """Remove a candidate or retired version and its file (keeps Redis from filling with retrains)."""
        _check(user, comment)

        def write(pipe: redis.client.Pipeline, entries: dict[str, ModelEntry], _: list[str]) -> None:
            entry = entries.get(version)
            if entry is None:
                raise NotRegistered(f"no model version {version!r:.80} is registered")
            if entry.state not in {CANDIDATE, RETIRED}:
                raise RegistryError(f"model {version} is {entry.state}: retire it before deleting it")
            pipe.multi()
            pipe.hdel(self._keys.models, version)
            pipe.delete(self._keys.model_file(version))
            self._record(pipe, _Change("deleted", version, entry.state, "", {}), user, comment)

        self._change(write)

    # --- internals --------------------------------------------------------------------------------
    def _apply(
        self, pipe: Any, entries: Mapping[str, ModelEntry], moves: Mapping[str, str], user: str, note: str
    ) -> None:
        """Start the MULTI and write the moved entries (a new champion's `champion_since` is now)."""
        now = _iso(self._clock())
        pipe.multi()
        for version, state in moves.items():
            old = entries[version]
            since = now if state == CHAMPION else old.champion_since
            new = msgspec.structs.replace(
                old, state=state, changed_by=user, changed_at=now, comment=note, champion_since=since
            )
            pipe.hset(self._keys.models, version, encode_entry(new))

    def _change(self, write: Write) -> Any:
        for _ in range(_ATTEMPTS):
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self._keys.models, self._keys.models_champions)
                    entries = _decode_all(pipe.hgetall(self._keys.models))
                    history = [_text(v) for v in pipe.lrange(self._keys.models_champions, 0, -1)]
                    result = write(pipe, entries, history)
                    pipe.execute()
                except redis.WatchError:
                    continue
            return result
        raise RegistryError("the model registry is changing too often; try again")

    def _record(self, pipe: redis.client.Pipeline, change: _Change, user: str, comment: str) -> None:
        action, version, before, after, moves = change
        when = self._clock()
        entry: dict[str, Any] = {
            "action": action, "version": version, "from": before, "to": after, "moved": dict(moves),
            "who": user, "when": _iso(when),
        }  # fmt: skip
        if comment:
            entry["comment"] = comment
        pipe.lpush(self._keys.models_history, msgspec.json.encode(entry))
        pipe.ltrim(self._keys.models_history, 0, AUDIT_MAX - 1)
        pipe.incr(self._keys.models_seq)
        event = make_event(
            MODEL_CHANGED, at_ms=int(when * 1000), actor=user, subject=version,
            before={"state": before} if before else {}, after={k: v for k, v in entry.items() if k != "who"},
            note=comment,
        )  # fmt: skip
        pipe.xadd(self._keys.events_outbox, {OUTBOX_FIELD: encode_event(event)})  # the relay sends it on


def _decode_all(raw: Mapping[Any, Any]) -> dict[str, ModelEntry]:
    out: dict[str, ModelEntry] = {}
    for _, value in raw.items():
        try:
            entry = decode_entry(value)
        except TransitionError:
            continue
        out[entry.version] = entry
    return out
