"""Checks of single values in a rules document: each refusal is a RuleValidationError naming its path."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from common.rulelang import model as m
from common.rules import RuleValidationError

_LIST = re.compile(m.LIST_PATTERN)


def fail(path: str, message: str) -> RuleValidationError:
    """The error for `path` (raise it): the message starts with the path."""
    return RuleValidationError(f"{path}: {message}", path)


def show(value: Any) -> str:
    """A value quoted as the document would spell it, cut short: "abc", 12, true, a list."""
    if isinstance(value, str | int | float | bool) or value is None:
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) else repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(value).__name__}"


def keys_of(obj: Any, path: str, allowed: Collection[str], what: str) -> Mapping[str, Any]:
    """`obj` as a mapping with only `allowed` keys, or the error naming the first stranger."""
    if not isinstance(obj, Mapping):
        raise fail(path, f"expected {what} (an object), got {show(obj)}")
    for key in obj:
        if key not in allowed:
            raise fail(path, f"unknown key {show(key)} (known: {', '.join(allowed)})")
    return obj


def text(obj: Any, path: str, limit: int = m.MAX_TEXT, *, empty: bool = True) -> str:
    """A string of at most `limit` printable characters."""
    if not isinstance(obj, str):
        raise fail(path, f"expected a string, got {show(obj)}")
    if len(obj) > limit:
        raise fail(path, f"at most {limit} characters, got {len(obj)}")
    if not obj.isprintable() or (not empty and not obj.strip()):
        raise fail(path, f"expected printable non-empty text, got {show(obj)}")
    return obj


def number(obj: Any, path: str, what: str) -> float:
    """A finite number (true/false are not numbers), as a float."""
    if isinstance(obj, bool) or not isinstance(obj, int | float):
        hint = " (quote-free true/false/yes/no are not numbers)" if isinstance(obj, bool) else ""
        raise fail(path, f"expected a number for {what}, got {show(obj)}{hint}")
    try:
        value = float(obj)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise fail(path, f"expected a finite number for {what}, got {show(obj)}")
    return value


def integer(obj: Any, path: str, what: str, low: int, high: int) -> int:
    """A whole number in [low, high]."""
    value = number(obj, path, what)
    if not value.is_integer() or not low <= value <= high:
        raise fail(path, f"expected a whole number {low}..{high} for {what}, got {show(obj)}")
    return int(value)


def list_name(obj: Any, path: str, known: Collection[str] | None) -> str:
    """A list's name: the pattern, and when the caller knows which lists exist, one of those."""
    if not isinstance(obj, str) or not _LIST.fullmatch(obj):
        raise fail(path, f"expected a list name ([a-z][a-z0-9_]{{1,47}}), got {show(obj)}")
    if known is not None and obj not in known:
        raise fail(path, f"no list named {show(obj)}")
    return obj


def unique_ids(rules: Iterable[tuple[str, str]]) -> set[str]:
    """The ids of (id, the rule's path) pairs; an id used again is refused at `<path>.id`."""
    first: dict[str, str] = {}
    for rid, path in rules:
        if rid in first:
            raise fail(f"{path}.id", f"the id {show(rid)} is already used by {first[rid]}")
        first[rid] = path
    return set(first)
