"""Where a validation error belongs in the rule builder: its path mapped to a form row or field."""

from __future__ import annotations

import re
from typing import NamedTuple

_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*")
META = ("id", "name", "description", "score", "enabled", "explain")
# a leaf's keys -> the form part that shows them (a `where` sub-path lands on its own inputs)
_PART = {"field": "field", "op": "op", "value": "value", "as": "as", "agg": "agg", "of": "of"}
_PART |= {"window": "window", "feature": "feature", "list": "list", "where": "where_field"}


class Target(NamedTuple):
    """A place in the form: `meta` (field name), `row` (index and part), `rule` (the whole rule) or `doc`."""

    where: str
    row: int = -1
    part: str = ""


def split_path(path: str) -> list[str | int]:
    """`rules[3].when.all[2].value` -> ["rules", 3, "when", "all", 2, "value"] (stops at junk)."""
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None or m.end() == pos:
            break
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return out


def error_path(exc: BaseException) -> str:
    """The error's path: its `.path` (common.rulelang) or the message up to the first ': '."""
    path = getattr(exc, "path", None)
    if isinstance(path, str) and path:
        return path
    head = str(exc).split(": ", 1)[0]
    return head if _PATH.fullmatch(head) else ""


def error_text(exc: BaseException) -> str:
    """The message without its leading path (shown beside the field, the path is implied)."""
    text = str(exc)
    path = error_path(exc)
    return text[len(path) + 2 :] if path and text.startswith(path + ": ") else text


def _leaf_target(row: int, leaf: list[str | int]) -> Target:
    if not leaf:
        return Target("row", row, "")
    key = leaf[0]
    if key == "where" and len(leaf) >= 2 and leaf[1] in ("field", "op", "value"):
        return Target("row", row, f"where_{leaf[1]}")
    return Target("row", row, _PART.get(str(key), ""))


def target_of(path: str, rule_index: int) -> Target:
    """Map an error path of the whole document to the form of rule `rule_index`."""
    parts = split_path(path)
    if len(parts) < 2 or parts[0] != "rules" or parts[1] != rule_index:
        return Target("doc")
    rest = parts[2:]
    head = rest[0] if rest else None
    if isinstance(head, str) and head in META:
        return Target("meta", part=head)
    if head != "when":
        return Target("rule")
    # the form always writes one top-level group: when.<all|any>[i]...
    if len(rest) >= 3 and rest[1] in ("all", "any") and isinstance(rest[2], int):
        return _leaf_target(rest[2], rest[3:])
    return Target("meta", part="when")
