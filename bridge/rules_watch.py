"""Live rules and lists: seed the rules document, poll it and the lists version, rebuild the detector."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import msgspec
import redis

from bridge.detection import Detector
from bridge.shadow import ShadowSlot
from common.keys import RedisKeys
from common.rulelang.lists import NEVER, ListSnapshot
from common.rules import RuleValidationError, default_rules
from common.rules_doc import RulesDoc, decode_rules_doc, encode_rules_doc

logger = logging.getLogger(__name__)
SCAN_CHUNK = 5_000  # list entries per HSCAN round trip


class _Expiry(msgspec.Struct):
    """The one field of a stored list entry (dashapp.store.list_entries.Stored) the engines read."""

    expires_ms: int | None = None


class _Change(msgspec.Struct):
    """One change record of a list (RedisKeys.list_changes): its version and the values touched."""

    v: int
    values: list[str] | None = None


_expiry = msgspec.json.Decoder(_Expiry)
_change = msgspec.json.Decoder(_Change)


def _decode_expiry(raw: bytes | str | None) -> int | None:
    """An entry's expires_ms (NEVER = 0), or None when absent or unreadable."""
    if raw is None:
        return None
    try:
        expires = _expiry.decode(raw).expires_ms
    except msgspec.DecodeError:
        return None
    return NEVER if expires is None else expires


def default_doc() -> RulesDoc:
    """The document seeded when Redis has none: shipped defaults, version 1, by `system`."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return RulesDoc(version=1, rules=default_rules(), updated_by="system", updated_at=now)


class RulesWatcher:
    """Holds the current Detector, its rules version and list snapshot; `refresh()` at most every
    `interval_s` reads the rules key and the lists version in one round trip, and reloads only the
    lists whose own version changed. `on_lists` (if set) receives each new snapshot (the native engine).
    """

    def __init__(self, client: redis.Redis, keys: RedisKeys, interval_s: float = 0.5) -> None:
        self._client, self._keys, self._interval = client, keys, interval_s
        self._raw: bytes | None = None
        self._lists_seen: bytes | None = None  # the lists version counter last loaded
        # Lists are loaded on the first refresh even when none exist (no counter yet): the native
        # engine treats "no snapshot" as unknown and hands every event a list rule might fire on to
        # Python, while an empty snapshot answers "not a member" there as Python does.
        self._lists_loaded = False
        self._list_versions: dict[str, int] = {}
        self._next = 0.0
        doc = default_doc()
        self.version = doc.version
        self.detector = Detector(doc.rules)
        self.lists: ListSnapshot = {}
        self.on_lists: Callable[[ListSnapshot], None] | None = None
        self.shadow = ShadowSlot()  # the shadow set (docs/shadow.md), read in the same round trip

    def seed(self) -> None:
        """Store the default document unless one exists (SET NX), then load whatever is there."""
        self._client.set(self._keys.rules, encode_rules_doc(default_doc()), nx=True)
        self._next = 0.0
        self.refresh()

    def refresh(self, now: float | None = None) -> bool:
        """Reload the rules and lists if due and changed; return True when the detector was rebuilt."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return False
        self._next = now + self._interval
        with self._client.pipeline(transaction=False) as pipe:
            pipe.get(self._keys.rules)
            pipe.get(self._keys.lists_version)
            pipe.get(self._keys.shadow_rules)
            raw, lists_raw, shadow_raw = pipe.execute()
        rebuilt = self._rules(raw)
        if lists_raw != self._lists_seen or not self._lists_loaded:
            self._load_lists(lists_raw)
            rebuilt = True
        return self.shadow.update(shadow_raw, self.lists) or rebuilt

    def _rules(self, raw: bytes | None) -> bool:
        if raw is None or raw == self._raw:
            return False
        self._raw = raw
        try:
            doc = decode_rules_doc(raw)
        except RuleValidationError as exc:
            logger.error("bridge: invalid rules doc kept_version=%s error=%s", self.version, exc)
            return False
        if doc.version == self.version and doc.rules == self.detector.rules:
            return False
        self.detector = self.detector.with_rules(doc.rules)
        logger.info("bridge: rules loaded version=%s by=%s", doc.version, doc.updated_by)
        self.version = doc.version
        return True

    def _load_lists(self, counter: bytes | None) -> None:
        """Reload the lists whose version changed, drop deleted ones, and hand the snapshot on."""
        index = {_text(k): int(v) for k, v in self._client.hgetall(self._keys.lists_index).items()}
        lists = {name: entries for name, entries in self.lists.items() if name in index}
        versions = {n: v for n, v in self._list_versions.items() if n in index}
        changed = [n for n, v in index.items() if versions.get(n) != v]
        how = []
        for name in changed:
            lists[name], versions[name], delta = self._reload(name, lists.get(name), versions.get(name))
            how.append(f"{name}={len(lists[name])}{'' if delta else ' (whole)'}")
        self._list_versions, self._lists_seen, self.lists = versions, counter, lists
        self._lists_loaded = True
        self.detector = self.detector.with_lists(lists)
        self.shadow.relist(lists)
        if self.on_lists is not None:
            self.on_lists(lists)
        logger.info("bridge: lists loaded version=%d changed=[%s]", int(counter or 0), ", ".join(how))

    def _reload(
        self, name: str, old: Mapping[str, int] | None, known: int | None
    ) -> tuple[dict[str, int], int, bool]:
        """(entries, version, delta?): only the values its change records name when they cover
        every change since `known`, else the whole list."""
        with self._client.pipeline(transaction=True) as pipe:  # the version and its records together
            pipe.hget(self._keys.lists_index, name)
            pipe.lrange(self._keys.list_changes(name), 0, -1)
            raw_version, raw_records = pipe.execute()
        if raw_version is None:  # deleted meanwhile: empty until the next poll drops it
            return {}, 0, False
        version = int(raw_version)
        try:
            records = [_change.decode(r) for r in raw_records]
        except msgspec.DecodeError:
            records = []
        newer = [r for r in records if known is not None and r.v > known]
        complete = old is not None and any(r.v == known for r in records)
        if not complete or not newer or any(r.values is None for r in newer):
            return self._entries(name), version, False
        touched = sorted({v for r in newer for v in r.values or ()})
        entries = dict(old or {})
        raws = self._client.hmget(self._keys.list_entries(name), touched) if touched else []
        for value, raw in zip(touched, raws, strict=True):
            expires = _decode_expiry(raw)
            if expires is None:
                entries.pop(value, None)
            else:
                entries[value] = expires
        return entries, version, True

    def _entries(self, name: str) -> dict[str, int]:
        """One list as value -> expires_ms (NEVER = 0), read SCAN_CHUNK entries per round trip."""
        key, out, bad = self._keys.list_entries(name), {}, 0
        for value, raw in self._client.hscan_iter(key, count=SCAN_CHUNK):
            expires = _decode_expiry(raw)
            if expires is None:
                bad += 1
            else:
                out[_text(value)] = expires
        if bad:
            logger.warning("bridge: list entries skipped (unreadable) list=%s count=%d", name, bad)
        return out


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
