"""The model registry's contract: a model version's entry, its states, and which changes are allowed.

A version moves candidate -> shadow -> champion and ends retired. There is at most one champion;
making a version champion retires the one before it, and `rollback` brings back the champion
before the current one. These are pure functions over the registry's entries: the Redis store
(model/registry.py) applies what they return in one transaction, and the bridge reads the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

CANDIDATE, SHADOW, CHAMPION, RETIRED = "candidate", "shadow", "champion", "retired"
STATES = (CANDIDATE, SHADOW, CHAMPION, RETIRED)
MAX_SHADOWS = 3  # each shadow model scores every event beside the champion once serving is built
# From each state, the states one change may move a version to (champion: via promotion only).
ALLOWED: dict[str, tuple[str, ...]] = {
    CANDIDATE: (SHADOW, CHAMPION, RETIRED),
    SHADOW: (CANDIDATE, CHAMPION, RETIRED),
    CHAMPION: (RETIRED,),
    RETIRED: (CANDIDATE, SHADOW, CHAMPION),
}


class TransitionError(ValueError):
    """A state change the registry refuses (unknown version or state, or not allowed from here)."""


class ModelEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One registered model version, as stored in RedisKeys.models (JSON).

    `card` is the model card (model/store.py) as saved; `champion_since` (ISO, UTC) is when it last
    became champion (shown; the order of champions is RedisKeys.models_champions, not a clock).
    """

    version: str
    state: str
    sha256: str
    size: int
    registered_by: str
    registered_at: str
    changed_by: str
    changed_at: str
    comment: str = ""
    champion_since: str = ""
    card: dict[str, Any] = {}


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ModelEntry)


def encode_entry(entry: ModelEntry) -> bytes:
    return _encoder.encode(entry)


def decode_entry(raw: bytes | str) -> ModelEntry:
    """Parse a stored entry; TransitionError (naming the problem) when it is not one."""
    try:
        entry = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise TransitionError(f"stored model entry unreadable: {exc}") from None
    if entry.state not in STATES:
        raise TransitionError(f"stored model entry {entry.version!r}: unknown state {entry.state!r}")
    return entry


def champion_of(entries: Mapping[str, ModelEntry]) -> ModelEntry | None:
    """The champion, or None (no model scores)."""
    found = [e for e in entries.values() if e.state == CHAMPION]
    return found[0] if found else None


def plan_change(entries: Mapping[str, ModelEntry], version: str, target: str) -> dict[str, str]:
    """The state of every version the change moves: version -> new state (the target first)."""
    if target not in STATES:
        raise TransitionError(f"state must be one of {', '.join(STATES)}, not {target!r:.40}")
    entry = entries.get(version)
    if entry is None:
        raise TransitionError(f"no model version {version!r:.80} is registered")
    if entry.state == target:
        raise TransitionError(f"model {version} is already {target}")
    if target not in ALLOWED[entry.state]:
        raise TransitionError(
            f"model {version} is {entry.state}: it can become "
            f"{' or '.join(ALLOWED[entry.state])}, not {target}"
        )
    moves = {version: target}
    if target == SHADOW:
        shadows = sum(1 for e in entries.values() if e.state == SHADOW)
        if shadows >= MAX_SHADOWS:
            raise TransitionError(
                f"{shadows} models are already in shadow (at most {MAX_SHADOWS}); retire one first"
            )
    if target == CHAMPION:
        old = champion_of(entries)
        if old is not None:
            moves[old.version] = RETIRED
    return moves


def rollback_target(entries: Mapping[str, ModelEntry], history: Sequence[str]) -> tuple[str, int]:
    """The version a rollback makes champion, and how much of the champion history stays.

    `history` lists every version made champion, oldest first (a promotion appends, a rollback cuts
    back), so rolling back twice goes two champions back, even when one was champion twice.
    """
    current = champion_of(entries)
    if current is None:
        raise TransitionError("there is no champion to roll back")
    if not history or history[-1] != current.version:
        raise TransitionError(
            f"the champion history does not end with the champion {current.version}; "
            "make a version champion to restart it"
        )
    for i in range(len(history) - 2, -1, -1):
        if history[i] in entries and history[i] != current.version:
            return history[i], i + 1
    raise TransitionError(f"model {current.version} is the first champion: nothing to roll back to")
