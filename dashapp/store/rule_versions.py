"""Rule-set versions: the record each publish keeps, reading it back, and which rules use a list."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec
import redis

from common.keys import RULE_VERSIONS_MAX, RedisKeys
from common.rulelang import to_document
from common.rulelang.model import leaves
from common.rules import RulesConfig
from common.rules_doc import RulesDoc
from dashapp.store.errors import StoreError

logger = logging.getLogger(__name__)
SEEDED_COMMENT = "defaults (seeded)"


class VersionNotFound(StoreError, LookupError):
    """No such rule-set version (never published, or older than the kept RULE_VERSIONS_MAX)."""

    def __init__(self, version: object) -> None:
        super().__init__(
            f"rule-set version {version!r:.40} not found (the newest {RULE_VERSIONS_MAX:,} are kept)"
        )
        self.version = version


class VersionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One publish: the full document (common.rulelang.to_document), who, when (ISO-8601 UTC), why.

    `restored_from` is the version a restore copied. `document` is None in listings (versions()).
    """

    version: int
    author: str
    at: str
    comment: str = ""
    restored_from: int | None = None
    document: dict[str, Any] | None = None

    def summary(self) -> VersionRecord:
        """The record without its document (what a version listing shows)."""
        return msgspec.structs.replace(self, document=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's body)."""
        body: dict[str, Any] = msgspec.to_builtins(self)
        return body


_record = msgspec.json.Decoder(VersionRecord)
_enc = msgspec.json.Encoder()


def record_of(doc: RulesDoc, comment: str, restored_from: int | None = None) -> VersionRecord:
    """The version record of a live document."""
    return VersionRecord(
        version=doc.version,
        author=doc.updated_by,
        at=doc.updated_at,
        comment=comment,
        restored_from=restored_from,
        document=to_document(doc.rules),
    )


def queue_record(pipe: redis.client.Pipeline, keys: RedisKeys, record: VersionRecord) -> None:
    """Queue (inside a MULTI) the record and the drop of the version that falls out of the history."""
    pipe.hset(keys.rule_versions, str(record.version), _enc.encode(record))
    if record.version > RULE_VERSIONS_MAX:
        pipe.hdel(keys.rule_versions, str(record.version - RULE_VERSIONS_MAX))


def decode_record(raw: bytes | str | None, key: str) -> VersionRecord | None:
    """A stored record, or None if absent or unreadable (logged: a bad record hides no other)."""
    if raw is None:
        return None
    try:
        return _record.decode(raw)
    except msgspec.DecodeError as exc:
        logger.warning("rules: unreadable version record key=%s error=%s", key, exc)
        return None


def read_versions(
    client: redis.Redis, keys: RedisKeys, live: RulesDoc, numbers: Sequence[int]
) -> list[VersionRecord | None]:
    """The records of `numbers` (one HMGET); the live version, if it was seeded without a record,
    is described from the live document."""
    if not numbers:
        return []
    raws = client.hmget(keys.rule_versions, [str(n) for n in numbers])
    found = [decode_record(raw, keys.rule_versions) for raw in raws]
    return [
        record_of(live, SEEDED_COMMENT) if rec is None and n == live.version else rec
        for n, rec in zip(numbers, found, strict=True)
    ]


def check_number(raw: object) -> int:
    """A version number from user input (int or decimal string), or VersionNotFound."""
    if isinstance(raw, bool):
        raise VersionNotFound(raw)
    if isinstance(raw, str) and raw.isdecimal() and len(raw) < 12:
        raw = int(raw)
    if not isinstance(raw, int) or raw < 1:
        raise VersionNotFound(raw)
    return raw


def lists_used(cfg: RulesConfig) -> dict[str, list[str]]:
    """List name -> the rules (`rule <id>`) and suppressions (`suppressions[i]`) that name it."""
    used: dict[str, list[str]] = {}
    for rule in cfg.custom:
        for leaf in leaves(rule.when):
            if leaf.list_ is not None and f"rule {rule.id}" not in used.get(leaf.list_, []):
                used.setdefault(leaf.list_, []).append(f"rule {rule.id}")
    for i, sup in enumerate(cfg.suppressions):
        used.setdefault(sup.list_, []).append(f"suppressions[{i}]")
    return used
