"""The shadow rule set: publish, read, drop and promote (to live, as a normal rules publish), each audited."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
import redis

from common.alert_events import SHADOW_CHANGED, make_event
from common.keys import AUDIT_MAX, SHADOW_EVENTS_FIELD, SHADOW_FIRES_FIELD, SHADOW_TRUTH_FIELD, RedisKeys
from common.rulelang import to_document
from common.rules import RuleValidationError
from common.rules_doc import RulesDoc
from common.shadow_doc import ShadowDoc, decode_shadow_doc, encode_shadow_doc, history_gaps
from dashapp.store import outbox_events
from dashapp.store._codec import load_json, text
from dashapp.store.errors import InvalidAction, StoreError, VersionConflict
from dashapp.store.rules_store import MAX_COMMENT, RulesStore, _iso

logger = logging.getLogger(__name__)
_ATTEMPTS = 5


class UnreadableShadow(StoreError):
    """The stored shadow set cannot be read (a hand edit, or a rule kind this dashboard refuses)."""

    def __init__(self, reason: str, shadow_id: int) -> None:
        what = f"the stored shadow set {shadow_id} cannot be read"
        super().__init__(f"{what} ({reason}); drop it, or publish another, to start again")
        self.shadow_id = shadow_id


class NoShadow(StoreError, LookupError):
    """No shadow set is published."""

    def __init__(self) -> None:
        super().__init__("no shadow rule set is published")


class ShadowStore:
    """The one shadow set at keys.shadow_rules, its findings (shadow:*) and its history.

    Publish replaces the shadow set and clears the previous one's findings in one MULTI; drop
    clears both; promote publishes the shadow set as the next live version through RulesStore
    (version history, audit, `rules.published` event) and removes it in the same MULTI. Each is
    checked against the shadow id the caller last saw (`expected`, None: any) and appends a
    history entry and a `shadow.changed` event. Errors: RuleValidationError, VersionConflict,
    NoShadow, InvalidAction.
    """

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, rules: RulesStore, clock: Callable[[], float] = time.time
    ) -> None:
        self._r, self._keys, self._rules, self._clock = client, keys, rules, clock

    def current(self) -> ShadowDoc | None:
        """The shadow set, None without one; UnreadableShadow if the stored one cannot be read."""
        return self._decode(self._r, self._r.get(self._keys.shadow_rules))

    def publish(
        self, document: object, user: str, comment: str = "", expected: int | None = None
    ) -> ShadowDoc:
        """Validate `document` exactly like a rules publish and make it the shadow set (a new id)."""
        _check(user, comment)
        lists = [n for n in map(text, self._r.hkeys(self._keys.lists_index)) if n]
        rules = RulesStore.publish_build(document, lists)
        live = self._rules.current()

        def write(pipe: redis.client.Pipeline, old: ShadowDoc | None) -> ShadowDoc:
            last = int(pipe.hget(self._keys.shadow_stats, "last_id") or 0)
            counters = self._counters(pipe)
            new = ShadowDoc(
                id=max(last, old.id if old else 0) + 1,
                rules=rules,
                base_version=live.version,
                by=user,
                at=_iso(self._clock()),
                comment=comment,
            )
            pipe.multi()
            self._clear(pipe, counters)
            pipe.set(self._keys.shadow_rules, encode_shadow_doc(new))
            pipe.hset(self._keys.shadow_stats, "last_id", new.id)  # ids never repeat across drops
            self._record(pipe, "published", new, user, comment, document=to_document(rules))
            return new

        return self._change(expected, write, allow_none=True, unreadable_ok=True)

    def drop(self, user: str, comment: str = "", expected: int | None = None) -> ShadowDoc:
        """Stop the shadow set (bridges stop within a poll) and clear its findings."""
        _check(user, comment)

        def write(pipe: redis.client.Pipeline, old: ShadowDoc | None) -> ShadowDoc:
            assert old is not None
            counters = self._counters(pipe)
            pipe.multi()
            pipe.delete(self._keys.shadow_rules)
            self._clear(pipe, counters)
            self._record(pipe, "dropped", old, user, comment)
            return old

        return self._change(expected, write, allow_none=False, unreadable_ok=True)

    def promote(
        self, user: str, comment: str = "", expected: int | None = None
    ) -> tuple[ShadowDoc, RulesDoc]:
        """Publish the shadow set as the next live version and remove it, in one MULTI.

        Refused while the live rules are not the version the shadow was published beside: the
        shadow holds a whole rule set, so promoting it would silently undo the later live change.
        """
        _check(user, comment)
        first = self._expect(self.current(), expected, allow_none=False)
        seen: list[ShadowDoc] = []
        counters: list[str] = []

        def document() -> object:  # read while shadow_rules is WATCHed (RulesStore.publish_with)
            old = self._expect(self.current(), first.id, allow_none=False)
            seen[:] = [old]
            counters[:] = _events_fields(self._r.hkeys(self._keys.shadow_stats))
            return old.rules

        def also(pipe: redis.client.Pipeline) -> None:
            pipe.delete(self._keys.shadow_rules)
            self._clear(pipe, counters)
            self._record(pipe, "promoted", seen[0], user, comment)

        before = self._rules.current().version
        note = comment or "promoted from the shadow set"
        try:
            doc = self._rules.publish_with(
                document, user, note, first.base_version, watch=(self._keys.shadow_rules,), also=also
            )
        except VersionConflict as exc:
            raise VersionConflict(
                f"shadow {first.id} was published beside live version {first.base_version}, and the "
                f"live rules are now version {exc.current_version} (by {exc.changed_by}): promoting it "
                "would undo that change. Load the live rules, redo the shadow's change on them and "
                "publish it as shadow again",
                current=exc.current,
                changed_by=exc.changed_by,
                current_version=exc.current_version,
            ) from exc
        if doc.version == before:  # the shadow equals the live rules: no version; it is dropped
            self.drop(user, comment or "promoted: equal to the live rules", seen[0].id)
        logger.info("shadow: promoted id=%s to version=%s by=%s", seen[0].id, doc.version, user)
        return seen[0], doc

    def gaps(self, doc: ShadowDoc) -> list[str]:
        """What history the shadow set reads that the live rules' card state does not keep."""
        return history_gaps(self._rules.current().rules, doc.rules)

    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first: {action, id, who, when, comment?, version? (promoted)}."""
        key = self._keys.shadow_history
        entries = (
            load_json(raw, key=key) for raw in self._r.lrange(key, 0, max(1, min(limit, AUDIT_MAX)) - 1)
        )
        return [e for e in entries if isinstance(e, dict)]

    # --- internals --------------------------------------------------------------------------------
    def _change(
        self,
        expected: int | None,
        write: Callable[[redis.client.Pipeline, ShadowDoc | None], ShadowDoc],
        *,
        allow_none: bool,
        unreadable_ok: bool = False,
    ) -> ShadowDoc:
        for _ in range(_ATTEMPTS):
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    # not shadow_stats: bridges count into it every batch while a shadow runs
                    pipe.watch(self._keys.shadow_rules)
                    raw = pipe.get(self._keys.shadow_rules)
                    try:
                        old = self._decode(pipe, raw)
                    except UnreadableShadow as exc:
                        if not unreadable_ok:
                            raise
                        # publish over it or drop it: the only ways out, so they must not need to read it
                        old = self._stand_in(exc.shadow_id)
                    self._expect(old, expected, allow_none=allow_none)
                    new = write(pipe, old)
                    pipe.execute()
                except redis.WatchError:
                    continue
            return new
        raise StoreError("the shadow set is changing too often; try again")

    def _decode(self, client: Any, raw: bytes | str | None) -> ShadowDoc | None:
        if raw is None:
            return None
        try:
            return decode_shadow_doc(raw)
        except RuleValidationError as exc:
            logger.warning("shadow: the stored shadow set cannot be read: %s", exc)
            last_id = int(client.hget(self._keys.shadow_stats, "last_id") or 0)
            raise UnreadableShadow(str(exc), last_id) from None

    def _stand_in(self, shadow_id: int) -> ShadowDoc:
        """What the history and the event record of a shadow set that cannot be read: its id only."""
        return ShadowDoc(id=shadow_id, rules=self._rules.current().rules, base_version=0, by="", at="")

    @staticmethod
    def _expect(old: ShadowDoc | None, expected: int | None, *, allow_none: bool) -> ShadowDoc:
        if old is None and not allow_none:
            raise NoShadow
        have = old.id if old is not None else 0
        if expected is not None and expected != have:
            raise VersionConflict(
                f"the shadow set was changed by {old.by if old else 'someone'} (now shadow {have}; you had "
                f"shadow {expected}); review it and try again",
                current=old,
                changed_by=old.by if old else "",
                current_version=have,
            )
        return old  # type: ignore[return-value]

    def _counters(self, pipe: redis.client.Pipeline) -> list[str]:
        """The per-shadow counters (read before MULTI; `last_id` stays: ids never repeat)."""
        return _events_fields(pipe.hkeys(self._keys.shadow_stats))

    def _clear(self, pipe: redis.client.Pipeline, counters: list[str]) -> None:
        pipe.delete(self._keys.shadow_alerts, self._keys.shadow_pairs)
        if counters:
            pipe.hdel(self._keys.shadow_stats, *counters)

    def _record(
        self, pipe: redis.client.Pipeline, action: str, doc: ShadowDoc, user: str, comment: str, **extra: Any
    ) -> None:
        when = _iso(self._clock())
        entry: dict[str, Any] = {"action": action, "id": doc.id, "who": user, "when": when}
        if comment:
            entry["comment"] = comment
        pipe.lpush(self._keys.shadow_history, msgspec.json.encode(entry))
        pipe.ltrim(self._keys.shadow_history, 0, AUDIT_MAX - 1)
        pipe.incr(self._keys.seq)
        after = {"action": action, "id": doc.id, "base_version": doc.base_version, **extra}
        at_ms = outbox_events.ms_of(when)
        event = make_event(
            SHADOW_CHANGED, at_ms=at_ms, actor=user, subject=str(doc.id), after=after, note=comment
        )
        outbox_events.queue(pipe, self._keys, [event])


def _events_fields(fields: Any) -> list[str]:
    """Every per-shadow counter (`events:<id>`, `fires:<id>:...`, `truth:<id>:...`), the current and
    any older shadow's: a bridge may still count one batch for a shadow just dropped; the next change
    clears that too."""
    per_shadow = (SHADOW_EVENTS_FIELD, SHADOW_FIRES_FIELD, SHADOW_TRUTH_FIELD)
    return [f for f in (text(x) or "" for x in fields) if f.startswith(per_shadow)]


def _check(user: str, comment: str) -> None:
    if not isinstance(user, str) or not user.strip():
        raise InvalidAction("user must be a non-empty name")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise InvalidAction(f"comment must be text of at most {MAX_COMMENT} characters")


__all__ = ["NoShadow", "RuleValidationError", "ShadowStore"]
