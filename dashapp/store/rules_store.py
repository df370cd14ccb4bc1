"""Live rules: read, seed, publish (whole documents) and update (editor fields) as audited versions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import redis

from common.keys import AUDIT_MAX, RULE_VERSIONS_MAX, RedisKeys
from common.rulelang import parse_document, to_document
from common.rules import RulesConfig, RuleValidationError, apply_changes, default_rules
from common.rules_doc import RulesDoc, decode_rules_doc, diff_rules, encode_rules_doc
from dashapp.store import outbox_events
from dashapp.store._codec import load_json, text
from dashapp.store.errors import InvalidAction, VersionConflict
from dashapp.store.rule_versions import (
    SEEDED_COMMENT,
    VersionNotFound,
    VersionRecord,
    check_number,
    lists_used,
    queue_record,
    read_versions,
    record_of,
)

logger = logging.getLogger(__name__)

SEED_USER = "system"
MAX_COMMENT = 500
_ATTEMPTS = 5


def _iso(epoch_s: float) -> str:
    stamp = datetime.fromtimestamp(epoch_s, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class RulesStore:
    """The live rules document at keys.rules and its version history at keys.rule_versions.

    Every accepted change (publish, restore, the threshold editor's update) is one MULTI that sets
    the live document, records the version (full document, author, time, comment), appends the
    audit entry and bumps `seq`; bridges poll keys.rules and apply it within their poll interval.
    Reads: current(), versions(), version(), diff(), audit(). Errors: RuleValidationError (with
    `.path`; nothing changed), VersionConflict (`.current` = live RulesDoc), VersionNotFound,
    InvalidAction (blank user, comment too long).
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        keys: RedisKeys,
        clock: Callable[[], float] = time.time,
        *,
        outbox: bool = True,  # False only for the rebuild (outbox/rebuild.py): it replays events
    ) -> None:
        self._r = redis_client
        self._keys = keys
        self._clock = clock
        self._outbox = outbox

    def _seed(self) -> RulesDoc:
        return RulesDoc(
            version=1, rules=default_rules(), updated_by=SEED_USER, updated_at=_iso(self._clock())
        )

    def _parse(self, raw: object) -> RulesDoc | None:
        if raw is None:
            return None
        try:
            return decode_rules_doc(raw)  # type: ignore[arg-type]
        except RuleValidationError as exc:
            logger.error("rules: stored document is invalid key=%s error=%s", self._keys.rules, exc)
            raise

    def current(self) -> RulesDoc:
        """Return the live rules, seeding the defaults as version 1 if none are stored.

        Raises RuleValidationError if the stored document is corrupt (never silently replaced).
        """
        doc = self._parse(self._r.get(self._keys.rules))
        if doc is not None:
            return doc
        seed = self._seed()
        if self._r.set(self._keys.rules, encode_rules_doc(seed), nx=True):
            logger.info("rules: seeded defaults key=%s", self._keys.rules)
            return seed
        return self.current()  # another worker seeded first

    def document(self) -> dict[str, Any]:
        """The live rules as a document (docs/rules-language.md), with `version` beside it."""
        doc = self.current()
        return {**to_document(doc.rules), "version": doc.version}

    # --- writes ------------------------------------------------------------------------------------
    def update(
        self, changes: Mapping[str, Mapping[str, object]], user: str, expected_version: int
    ) -> RulesDoc:
        """Apply a partial change {"rule": {"field": value}} (the threshold editor) as a new version.

        Raises RuleValidationError (state unchanged), VersionConflict (`current` = live RulesDoc),
        or InvalidAction for a blank user. A change that alters nothing returns the live doc as is.
        """
        return self._commit(lambda doc, _lists: apply_changes(doc.rules, changes), user, "", expected_version)

    def publish(
        self, document: object, author: str, comment: str = "", expected_version: int | None = None
    ) -> RulesDoc:
        """Replace the whole rule set with a document (a dict from load_text) or a RulesConfig.

        Validated with parse_document against the lists that exist; `expected_version` (None: any)
        makes it a compare-and-set. Returns the new live doc, or the live doc itself if the
        document changes nothing (no version is made).
        """

        return self._commit(
            lambda _doc, lists: self.publish_build(document, lists), author, comment, expected_version
        )

    def publish_with(
        self,
        document: Callable[[], object],
        author: str,
        comment: str,
        expected_version: int | None,
        *,
        watch: Sequence[str],
        also: Callable[[redis.client.Pipeline], None],
    ) -> RulesDoc:
        """publish() a document read by `document()` while `watch` is WATCHed, queueing `also` into
        the same MULTI (the shadow set's promote: the version and the shadow's removal are one change)."""
        return self._commit(
            lambda doc, lists: self.publish_build(document(), lists),
            author,
            comment,
            expected_version,
            watch=watch,
            also=also,
        )

    @staticmethod
    def publish_build(document: object, lists: list[str]) -> RulesConfig:
        """Validate a document (or RulesConfig) exactly as publish() does."""
        body = to_document(document) if isinstance(document, RulesConfig) else document
        return parse_document(body, known_lists=lists)  # a `version` an export carries is ignored

    def restore(
        self, version: object, author: str, comment: str = "", expected_version: int | None = None
    ) -> RulesDoc:
        """Publish an earlier version's document again (a new version, `restored_from` = it)."""
        record = self.version(version)
        note = comment or f"restore of version {record.version}"
        return self._commit(
            lambda _doc, lists: parse_document(record.document, known_lists=lists),
            author,
            note,
            expected_version,
            restored_from=record.version,
        )

    def _commit(
        self,
        build: Callable[[RulesDoc, list[str]], RulesConfig],
        user: str,
        comment: str,
        expected_version: int | None,
        restored_from: int | None = None,
        *,
        watch: Sequence[str] = (),
        also: Callable[[redis.client.Pipeline], None] | None = None,
    ) -> RulesDoc:
        if not isinstance(user, str) or not user.strip():
            raise InvalidAction("user must be a non-empty name")
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise InvalidAction(f"comment must be text of at most {MAX_COMMENT} characters")
        self.current()  # make sure a document exists to WATCH
        for _ in range(_ATTEMPTS):
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    # the lists index too: a list deleted meanwhile must fail this publish's validation
                    pipe.watch(self._keys.rules, self._keys.lists_index, *watch)
                    doc = self._parse(pipe.get(self._keys.rules)) or self._seed()
                    if expected_version is not None and doc.version != expected_version:
                        raise VersionConflict(
                            f"rules were changed by {doc.updated_by} (now version {doc.version}; you had "
                            f"version {expected_version}); review them and try again",
                            current=doc,
                            changed_by=doc.updated_by,
                            current_version=doc.version,
                        )
                    lists = [n for n in map(text, pipe.hkeys(self._keys.lists_index)) if n]
                    rules = build(doc, lists)
                    if rules == doc.rules:
                        return doc
                    has_base = pipe.hexists(self._keys.rule_versions, str(doc.version))
                    new = self._write(
                        pipe, doc, rules, user, comment, restored_from=restored_from, has_base=has_base
                    )
                    if also is not None:
                        also(pipe)
                    pipe.execute()
                except redis.WatchError:
                    continue
            logger.info("rules: published version=%d by=%s comment=%.80r", new.version, user, comment)
            return new
        current = self.current()
        raise VersionConflict(
            "rules are changing too often; try again",
            current=current,
            changed_by="",
            current_version=current.version,
        )

    def _write(
        self,
        pipe: redis.client.Pipeline,
        doc: RulesDoc,
        rules: RulesConfig,
        user: str,
        comment: str,
        *,
        restored_from: int | None,
        has_base: bool,
    ) -> RulesDoc:
        new = RulesDoc(version=doc.version + 1, rules=rules, updated_by=user, updated_at=_iso(self._clock()))
        entry: dict[str, object] = {
            "version": new.version,
            "who": user,
            "when": new.updated_at,
            "changes": msgspec.to_builtins(diff_rules(doc.rules, rules)),
        }
        if comment:
            entry["comment"] = comment
        if restored_from is not None:
            entry["restored_from"] = restored_from
        pipe.multi()
        if not has_base:  # seeded (SET NX by a bridge or a worker) without a record: keep it as history
            queue_record(pipe, self._keys, record_of(doc, SEEDED_COMMENT))
        queue_record(pipe, self._keys, record_of(new, comment, restored_from))
        pipe.set(self._keys.rules, encode_rules_doc(new))
        pipe.lpush(self._keys.rules_audit, msgspec.json.encode(entry))
        pipe.ltrim(self._keys.rules_audit, 0, AUDIT_MAX - 1)
        pipe.incr(self._keys.seq)
        if self._outbox:  # in the same MULTI: no version is made without its event
            event = outbox_events.rules_event(
                doc, new, comment=comment, restored_from=restored_from, recorded_base=has_base,
                changes=entry["changes"],  # type: ignore[arg-type]
            )  # fmt: skip
            outbox_events.queue(pipe, self._keys, [event])
        return new

    # --- reads -------------------------------------------------------------------------------------
    def versions(self, limit: int = 50, before: int | None = None) -> list[VersionRecord]:
        """Version summaries (no documents), newest first, from `before - 1` (default: the live one)."""
        live = self.current()
        top = live.version if before is None else min(live.version, int(before) - 1)
        limit = max(1, min(int(limit), RULE_VERSIONS_MAX))
        numbers = list(range(top, max(0, top - limit), -1))
        return [r.summary() for r in read_versions(self._r, self._keys, live, numbers) if r is not None]

    def version(self, number: object) -> VersionRecord:
        """One version with its document; VersionNotFound if unknown or no longer kept."""
        n = check_number(number)
        found = read_versions(self._r, self._keys, self.current(), [n])[0]
        if found is None:
            raise VersionNotFound(n)
        return found

    def diff(self, a: object, b: object) -> list[dict[str, Any]]:
        """Every field that differs from version `a` to version `b`: [{rule, field, old, new}]."""
        before, after = self.version(a), self.version(b)
        cfg_a, cfg_b = parse_document(before.document), parse_document(after.document)
        return [msgspec.to_builtins(c) for c in diff_rules(cfg_a, cfg_b)]

    def lists_in_use(self, pipe: redis.client.Pipeline, name: str) -> list[str]:
        """The live rules' users of list `name` (ListStore's delete guard; `pipe` is WATCHing)."""
        doc = self._parse(pipe.get(self._keys.rules))
        return lists_used(doc.rules).get(name, []) if doc is not None else []

    def audit(self, limit: int = 50) -> list[dict[str, object]]:
        """Newest first: {version, who, when, changes: [{rule, field, old, new}], comment?, restored_from?}"""
        limit = max(1, min(int(limit), AUDIT_MAX))
        key = self._keys.rules_audit
        entries = (load_json(raw, key=key) for raw in self._r.lrange(key, 0, limit - 1))
        return [e for e in entries if isinstance(e, dict)]
