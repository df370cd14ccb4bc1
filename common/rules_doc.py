"""The live rules document stored in Redis (version, who, when) and the audit diff between configs."""

from __future__ import annotations

from typing import Any

import msgspec

from common.rules import RULE_SPECS, RulesConfig, RuleValidationError, rules_to_dict, validate_rules

_encoder = msgspec.json.Encoder()


class RulesDoc(msgspec.Struct, frozen=True, kw_only=True):
    """The live rules envelope at RedisKeys.rules; `version` increments on every accepted change."""

    version: int
    rules: RulesConfig
    updated_by: str
    updated_at: str  # ISO-8601 UTC


class Change(msgspec.Struct, frozen=True):
    """One field changed between two configs (an entry of the rules audit trail)."""

    rule: str
    field: str
    old: Any
    new: Any


def encode_rules_doc(doc: RulesDoc) -> bytes:
    """Serialise a rules document to JSON bytes."""
    return _encoder.encode(doc)


def decode_rules_doc(raw: bytes | str) -> RulesDoc:
    """Parse and validate a rules document; raise RuleValidationError on anything malformed."""
    try:
        body = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise RuleValidationError(f"rules doc: malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RuleValidationError("rules doc: expected an object")
    version, who, when = body.get("version"), body.get("updated_by"), body.get("updated_at")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise RuleValidationError(f"rules doc: version must be a non-negative integer, got {version!r:.60}")
    if not isinstance(who, str) or not isinstance(when, str):
        raise RuleValidationError("rules doc: updated_by and updated_at must be strings")
    return RulesDoc(version=version, rules=validate_rules(body.get("rules")), updated_by=who, updated_at=when)


def diff_rules(old: RulesConfig, new: RulesConfig) -> list[Change]:
    """List every field whose value differs, in RULE_SPECS order (JSON-able old/new values), then the
    custom rules (rule = its id; field "added"/"removed", or the changed field: "when", "enabled", ...)
    and the suppressions (one change of the whole list)."""
    before, after = rules_to_dict(old), rules_to_dict(new)
    changes = [
        Change(name, f.name, before[name][f.name], after[name][f.name])
        for name, spec in RULE_SPECS.items()
        for f in spec.fields
        if before[name][f.name] != after[name][f.name]
    ]
    was = {r["id"]: r for r in before.get("custom", [])}
    now = {r["id"]: r for r in after.get("custom", [])}
    for rid in [*was, *(r for r in now if r not in was)]:
        if rid not in now:
            changes.append(Change(rid, "removed", was[rid], None))
        elif rid not in was:
            changes.append(Change(rid, "added", None, now[rid]))
        else:
            changes.extend(Change(rid, k, v, now[rid][k]) for k, v in was[rid].items() if now[rid][k] != v)
    if before.get("suppressions", []) != after.get("suppressions", []):
        changes.append(
            Change(
                "suppressions", "suppressions", before.get("suppressions", []), after.get("suppressions", [])
            )
        )
    return changes
