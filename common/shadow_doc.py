"""The shadow rule set stored in Redis (RedisKeys.shadow_rules) and one shadow pair record."""

from __future__ import annotations

from typing import Any

import msgspec

from common.alerts import Alert
from common.rules import RulesConfig, RuleValidationError, validate_rules

_encoder = msgspec.json.Encoder()
ANY_RULE = "*"  # per-rule counters' row for "any rule" (as backtest.compare.ANY_RULE)


class ShadowDoc(msgspec.Struct, frozen=True, kw_only=True):
    """The one shadow set: `id` increments with every shadow publish (alerts carry it as rules_version)."""

    id: int
    rules: RulesConfig
    base_version: int  # the live rules version when it was published (what it was compared with)
    by: str
    at: str  # ISO-8601 UTC
    comment: str = ""


class Pair(msgspec.Struct, frozen=True, kw_only=True):
    """One event the live or the shadow set alerted on while the shadow ran (RedisKeys.shadow_pairs)."""

    shadow: int  # the ShadowDoc id it was evaluated beside
    record_ms: int  # Kafka record time
    scenario: str | None = None  # ground-truth headers (never shown to the detector)
    scenario_id: str | None = None
    live: Alert | None = None
    alert: Alert | None = None  # the shadow set's alert


class _Head(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    base_version: int
    by: str
    at: str
    comment: str = ""


def encode_shadow_doc(doc: ShadowDoc) -> bytes:
    return _encoder.encode(doc)


def decode_shadow_doc(raw: bytes | str) -> ShadowDoc:
    """Parse and validate a stored shadow document; raise RuleValidationError on anything malformed."""
    try:
        body: Any = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise RuleValidationError(f"shadow doc: malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RuleValidationError("shadow doc: expected an object")
    rules = validate_rules(body.pop("rules", None))
    try:
        head = msgspec.convert(body, _Head)
    except msgspec.ValidationError as exc:
        raise RuleValidationError(f"shadow doc: {exc}") from None
    return ShadowDoc(rules=rules, **msgspec.structs.asdict(head))


def encode_pair(pair: Pair) -> bytes:
    return _encoder.encode(pair)


_pair = msgspec.json.Decoder(Pair)


def decode_pair(raw: bytes | str) -> Pair | None:
    """A stored pair, or None when unreadable (a hand-edited key must not break the panel)."""
    try:
        return _pair.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None


def history_gaps(live: RulesConfig, shadow: RulesConfig) -> list[str]:
    """What per-card history the shadow set would read that the live set's state does not keep.

    The shadow set is evaluated on the live set's card state (docs/shadow.md): such a rule sees less
    history than it would once promoted, so its fires are a lower bound until then.
    """
    from common.rulelang import compile_rules  # common.rules imports common.rulelang lazily too

    have, want = compile_rules(live).plan, compile_rules(shadow).plan
    out = []
    missing = sorted(set(want.columns) - set(have.columns))
    if missing:
        out.append(f"history the live rules do not keep (empty until promoted): {', '.join(missing)}")
    if want.longest_ms > have.longest_ms:
        out.append(
            f"aggregate windows up to {want.longest_ms // 1000:,} s; the live rules keep "
            f"{have.longest_ms // 1000:,} s of history"
        )
    for name in ("velocity", "card_testing"):
        mine, theirs = getattr(shadow, name), getattr(live, name)
        if mine.enabled and mine.window_s > theirs.window_s:
            out.append(f"{name} window {mine.window_s:,} s; the live state keeps {theirs.window_s:,} s")
    return out
