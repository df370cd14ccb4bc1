"""Live rule parameters: read, seed, compare-and-set update with an audit trail."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import msgspec
import redis

from common.keys import AUDIT_MAX, RedisKeys
from common.rules import RuleValidationError, apply_changes, default_rules
from common.rules_doc import RulesDoc, decode_rules_doc, diff_rules, encode_rules_doc
from dashapp.store._codec import load_json
from dashapp.store.errors import InvalidAction, VersionConflict

logger = logging.getLogger(__name__)

SEED_USER = "system"
_ATTEMPTS = 5


def _iso(epoch_s: float) -> str:
    stamp = datetime.fromtimestamp(epoch_s, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class RulesStore:
    """The live rules document at keys.rules; every accepted change bumps version and `seq`."""

    def __init__(
        self, redis_client: redis.Redis, keys: RedisKeys, clock: Callable[[], float] = time.time
    ) -> None:
        self._r = redis_client
        self._keys = keys
        self._clock = clock

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

    def update(
        self, changes: Mapping[str, Mapping[str, object]], user: str, expected_version: int
    ) -> RulesDoc:
        """Apply a partial change if the live version is ``expected_version``; return the new doc.

        Raises RuleValidationError (state unchanged), VersionConflict (`current` = live RulesDoc),
        or InvalidAction for a blank user. A change that alters nothing returns the live doc as is.
        """
        if not isinstance(user, str) or not user.strip():
            raise InvalidAction("user must be a non-empty name")
        self.current()  # make sure a document exists to WATCH
        for _ in range(_ATTEMPTS):
            with self._r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self._keys.rules)
                    doc = self._parse(pipe.get(self._keys.rules)) or self._seed()
                    if doc.version != expected_version:
                        raise VersionConflict(
                            f"rules were changed by {doc.updated_by} (now version {doc.version}; you had "
                            f"version {expected_version}); review them and try again",
                            current=doc,
                            changed_by=doc.updated_by,
                            current_version=doc.version,
                        )
                    new = self._write(pipe, doc, changes, user)
                    if new is doc:
                        return doc
                    pipe.execute()
                except redis.WatchError:
                    continue
            logger.info("rules: updated version=%d by=%s", new.version, user)
            return new
        raise VersionConflict(
            "rules are changing too often; try again",
            current=self.current(),
            changed_by="",
            current_version=self.current().version,
        )

    def _write(
        self,
        pipe: redis.client.Pipeline,
        doc: RulesDoc,
        changes: Mapping[str, Mapping[str, object]],
        user: str,
    ) -> RulesDoc:
        rules = apply_changes(doc.rules, changes)
        diff = diff_rules(doc.rules, rules)
        if not diff:
            return doc
        now = self._clock()
        new = RulesDoc(version=doc.version + 1, rules=rules, updated_by=user, updated_at=_iso(now))
        entry = {
            "version": new.version,
            "who": user,
            "when": new.updated_at,
            "changes": msgspec.to_builtins(diff),
        }
        pipe.multi()
        pipe.set(self._keys.rules, encode_rules_doc(new))
        pipe.lpush(self._keys.rules_audit, msgspec.json.encode(entry))
        pipe.ltrim(self._keys.rules_audit, 0, AUDIT_MAX - 1)
        pipe.incr(self._keys.seq)
        return new

    def audit(self, limit: int = 50) -> list[dict[str, object]]:
        """Return the newest audit entries first: {version, who, when, changes:[{rule, field, old, new}]}."""
        limit = max(1, min(int(limit), AUDIT_MAX))
        key = self._keys.rules_audit
        entries = (load_json(raw, key=key) for raw in self._r.lrange(key, 0, limit - 1))
        return [e for e in entries if isinstance(e, dict)]
