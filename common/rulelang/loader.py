"""Reading a rules document from text: JSON or YAML (safe_load), bounded in size, depth and node count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import yaml

from common.rules import RuleValidationError

MAX_BYTES = 1_000_000
MAX_NESTING = 24  # the deepest legal document is ~20 levels (rules[i].when + 6 condition levels + where)
MAX_NODES = 1_000_000  # more than 1 MB of text can hold: only YAML aliases (a "billion laughs") get here


def load_text(text: str | bytes) -> Any:
    """Plain data from a JSON or YAML document; RuleValidationError (path "document") on anything else."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_BYTES:
        raise RuleValidationError(f"document: at most {MAX_BYTES:,} bytes, got {size:,}", "document")
    try:
        obj = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        obj = _yaml(text)
    _check_shape(obj)
    return obj


def _yaml(text: str | bytes) -> Any:
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise RuleValidationError("document: nested too deeply", "document") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RuleValidationError(f"document: not valid JSON or YAML: {problem}{where}", "document") from None
    except (UnicodeDecodeError, ValueError) as exc:  # bytes that are not text; YAML's own value errors
        raise RuleValidationError(f"document: not valid JSON or YAML: {exc}", "document") from None


def _check_shape(obj: Any) -> None:
    """Refuse documents nested deeper than MAX_NESTING or with more than MAX_NODES values (iteratively)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise RuleValidationError(f"document: more than {MAX_NODES:,} values", "document")
        if depth > MAX_NESTING:
            raise RuleValidationError(f"document: nested deeper than {MAX_NESTING} levels", "document")
        if isinstance(value, Mapping):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
