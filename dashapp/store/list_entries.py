"""List entries as data: validation, expiry parsing, and the CSV form `value,expires_at,note` (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from dashapp.store.errors import InvalidAction, StoreError

NAME_RE = re.compile(r"[a-z][a-z0-9_]{1,47}")  # docs/rules-language.md "Lists"
MAX_VALUE = 100  # the language's string bound: a longer value could never equal an event field
MAX_NOTE = 200
CSV_COLUMNS = ("value", "expires_at", "note")
# OWASP "CSV Injection" starts (as dashapp.views.alerts_csv): refused in values, quoted in notes.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class EntryError(InvalidAction):
    """An entry that cannot be stored; `where` is `line 7` (CSV) or `entries[6]` (JSON)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


class ListNotFound(StoreError, LookupError):
    """No list of this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"list {name!r} not found")
        self.name = name


class ListTooLarge(InvalidAction):
    """The write would leave more than the cap of entries in one list (nothing was applied)."""


class ListInUse(StoreError):
    """A rule or suppression names the list; `users` are their paths (`rules[3]`, `suppressions[0]`)."""

    def __init__(self, name: str, users: Sequence[str]) -> None:
        super().__init__(f"list {name!r} is used by {', '.join(users)}; remove those first")
        self.users = list(users)


@dataclass(frozen=True)
class ListInfo:
    """A list's name, entry count and version (a per-list counter bumped by each of its changes)."""

    name: str
    count: int
    version: int


class EntryIn(msgspec.Struct, frozen=True):
    """A validated entry as written by a user (who and when are added by the store)."""

    value: str
    expires_ms: int | None = None
    note: str = ""


class Stored(msgspec.Struct, frozen=True, omit_defaults=False):
    """An entry as kept in Redis (the JSON of RedisKeys.list_entries' hash values)."""

    expires_ms: int | None
    note: str
    by: str
    at: str  # ISO-8601 UTC


def check_name(name: object) -> str:
    """A list name `[a-z][a-z0-9_]{1,47}`, or InvalidAction."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidAction(f"list name must match {NAME_RE.pattern}, got {name!r:.60}")
    return name


def check_value(where: str, value: object) -> str:
    """A list value: a non-empty string of <= MAX_VALUE characters, no control or formula start."""
    if not isinstance(value, str):
        raise EntryError(where, f"value must be a string, got {value!r:.60}")
    value = value.strip()
    if not value:
        raise EntryError(where, "value is empty")
    if len(value) > MAX_VALUE:
        raise EntryError(where, f"value longer than {MAX_VALUE} characters")
    if _CONTROL.search(value) or value.startswith(FORMULA_STARTS):
        raise EntryError(where, f"value {value!r:.60} has a control character or starts with = + - @")
    return value


def parse_expiry(where: str, raw: object) -> int | None:
    """ISO-8601 UTC (`2026-12-31`, `2026-12-31T18:00:00Z`, an explicit offset) -> epoch ms; blank -> None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise EntryError(where, f"expires_at must be an ISO-8601 time, got {raw!r:.60}")
    text = raw.strip()
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise EntryError(
            where, f"expires_at {text!r} is not an ISO-8601 time (e.g. 2026-12-31T18:00:00Z)"
        ) from None
    if stamp.tzinfo is None:
        if len(text) != 10:  # a bare date means midnight UTC; a bare time of day is ambiguous
            raise EntryError(where, f"expires_at {text!r} has no time zone; add Z for UTC")
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def format_expiry(ms: int | None) -> str:
    """Epoch ms -> `2026-12-31T18:00:00Z` (milliseconds only when there are some); None -> ""."""
    if ms is None:
        return ""
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    spec = "milliseconds" if ms % 1000 else "seconds"
    return stamp.isoformat(timespec=spec).replace("+00:00", "Z")


def check_note(where: str, raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise EntryError(where, f"note must be a string, got {raw!r:.60}")
    note = raw.strip()
    if note.startswith("'") and note[1:2] and note[1:].startswith(FORMULA_STARTS):
        note = note[1:]  # our own CSV export's neutralising quote: a round trip gives the same note
    if len(note) > MAX_NOTE or _CONTROL.search(note):
        raise EntryError(where, f"note must be <= {MAX_NOTE} characters without control characters")
    return note


def unique(entries: Iterator[tuple[str, EntryIn]], limit: int) -> list[EntryIn]:
    """Refuse a value given twice (a silent last-wins would hide a typo) and more than `limit` rows."""
    seen: dict[str, str] = {}
    out: list[EntryIn] = []
    for where, entry in entries:
        if entry.value in seen:
            raise EntryError(where, f"duplicate value {entry.value!r:.60} (first at {seen[entry.value]})")
        if len(out) >= limit:
            raise EntryError(where, f"more than {limit:,} entries")
        seen[entry.value] = where
        out.append(entry)
    return out


def entries_from_json(items: object, limit: int) -> list[EntryIn]:
    """`[{value, expires_at?, note?}, ...]` (or plain strings) -> entries; EntryError names `entries[i]`."""
    if not isinstance(items, list):
        raise EntryError("entries", "expected a list")

    def each() -> Iterator[tuple[str, EntryIn]]:
        for i, item in enumerate(items):
            where = f"entries[{i}]"
            body = {"value": item} if isinstance(item, str) else item
            if not isinstance(body, Mapping):
                raise EntryError(where, "expected an object {value, expires_at, note} or a string")
            unknown = sorted(str(k) for k in set(body) - set(CSV_COLUMNS))
            if unknown:
                raise EntryError(where, f"unknown field {unknown[0]!r:.40}; known: {', '.join(CSV_COLUMNS)}")
            yield where, entry(where, body.get("value"), body.get("expires_at"), body.get("note"))

    return unique(each(), limit)


def values_from_json(items: object, limit: int) -> list[str]:
    """`["v1", "v2"]` -> checked values (for removals)."""
    if not isinstance(items, list):
        raise EntryError("values", "expected a list of strings")
    if len(items) > limit:
        raise EntryError("values", f"more than {limit:,} values")
    return [check_value(f"values[{i}]", v) for i, v in enumerate(items)]


def entry(where: str, value: object, expires: object, note: object) -> EntryIn:
    """One checked entry from its three cells."""
    return EntryIn(check_value(where, value), parse_expiry(where, expires), check_note(where, note))


def entry_json(value: str, stored: Stored) -> dict[str, Any]:
    """One entry as the API shows it."""
    return {
        "value": value,
        "expires_at": format_expiry(stored.expires_ms) or None,
        "note": stored.note,
        "by": stored.by,
        "at": stored.at,
    }


def sample(values: Sequence[str], n: int = 20) -> list[str]:
    """The first `n` values touched by a change (what the audit keeps)."""
    return list(values[:n])
