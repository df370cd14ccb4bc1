"""Reading a rules document from text: JSON or YAML (safe loading), bounded in size, depth and node count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import yaml

from common.rules import RuleValidationError

MAX_BYTES = 1_000_000
MAX_NESTING = 24  # the deepest legal document is ~20 levels (rules[i].when + 6 condition levels + where)
# Values after YAML aliases are expanded (a "billion laughs" is small text, a huge tree). 1 MB of
# JSON holds fewer values of any use; a legal document of 100 rules is far below either bound.
MAX_NODES = 300_000
# YAML is parsed in Python objects at ~10 us an event: a bigger document is JSON's job (1 MB).
MAX_YAML_EVENTS = 100_000
# libyaml when PyYAML has it (the PyPI wheels do); safe either way. Its loader recurses in C, so
# the event scan below bounds the nesting before anything is composed (a deep text would crash it).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def load_text(text: str | bytes) -> Any:
    """Plain data from a JSON or YAML document; RuleValidationError (path "document") on anything else."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_BYTES:
        raise _refuse(f"at most {MAX_BYTES:,} bytes, got {size:,}")
    try:
        obj = msgspec.json.decode(text)
    except RecursionError:
        raise _refuse("nested too deeply") from None
    except msgspec.DecodeError:
        obj = _yaml(text)
    _check_shape(obj)
    return obj


def _refuse(problem: str) -> RuleValidationError:
    return RuleValidationError(f"document: {problem}", "document")


def _yaml(text: str | bytes) -> Any:
    try:
        _scan(text)
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (SafeLoader or CSafeLoader)
    except RuleValidationError:
        raise  # the scan's own refusal (a ValueError too: not to be rewrapped below)
    except RecursionError:
        raise _refuse("nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _refuse(f"not valid JSON or YAML: {problem}{where}") from None
    except (UnicodeDecodeError, ValueError) as exc:  # bytes that are not text; YAML's own value errors
        raise _refuse(f"not valid JSON or YAML: {exc}") from None


def _scan(text: str | bytes) -> None:
    """Walk the YAML events (an iterative parser) refusing deep nesting and too many events."""
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=_LOADER), 1):
        if count > MAX_YAML_EVENTS:
            raise _refuse(f"a YAML document has at most {MAX_YAML_EVENTS:,} values (larger: send JSON)")
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_NESTING:
                raise _refuse(f"nested deeper than {MAX_NESTING} levels")
        elif isinstance(event, _CLOSE):
            depth -= 1


def _check_shape(obj: Any) -> None:
    """Refuse documents nested deeper than MAX_NESTING or with more than MAX_NODES values (iteratively)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _refuse(f"more than {MAX_NODES:,} values")
        if depth > MAX_NESTING:
            raise _refuse(f"nested deeper than {MAX_NESTING} levels")
        if isinstance(value, Mapping):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
