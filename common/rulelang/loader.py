"""Reading a rules document from text: JSON or YAML (safe loading), bounded in size, depth and node count."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any

import yaml

from common.rulelang.checks import show
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
    twice: list[tuple[object, Any]] = []  # (the mapping, its repeated key): found while loading
    try:
        obj = json.loads(text, object_pairs_hook=lambda pairs: _mapping(pairs, twice))
    except RecursionError:
        raise _refuse("nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        twice.clear()  # from objects of a text that turned out not to be JSON
        obj = _yaml(text, twice)
    _check_shape(obj)
    if twice:
        raise _duplicate(obj, twice[0])
    return obj


def _refuse(problem: str) -> RuleValidationError:
    return RuleValidationError(f"document: {problem}", "document")


def _mapping(pairs: list[tuple[str, Any]], twice: list[tuple[object, Any]]) -> dict[str, Any]:
    """A JSON object; a repeated key is recorded (JSON and Python would silently keep the last)."""
    out = dict(pairs)
    if len(out) < len(pairs):
        twice.append((out, _first_repeat(k for k, _ in pairs)))
    return out


def _duplicate(obj: Any, found: tuple[object, Any]) -> RuleValidationError:
    """The error naming the repeated key's path (`rules[2].when.op`), found by the mapping's identity."""
    target, key = found
    stack: list[tuple[Any, str]] = [(obj, "")]
    while stack:
        value, path = stack.pop()
        if value is target:
            where = f"{path}.{key}" if path else str(key)
            return RuleValidationError(f"{where}: the key {show(key)} appears twice in one object", where)
        if isinstance(value, Mapping):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value))
    return _refuse(f"the key {show(key)} appears twice in one object")


def _yaml(text: str | bytes, twice: list[tuple[object, Any]]) -> Any:
    try:
        _scan(text)
        loader = _Loader(text)
        try:
            loader.twice = twice
            return loader.get_single_data()
        finally:
            loader.dispose()
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


class _Loader(_LOADER):
    """The safe loader, recording a mapping that repeats one of its own keys (YAML keeps the last)."""

    twice: list[tuple[object, Any]]

    def construct_yaml_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data  # first, as PyYAML does, so anchors and aliases can refer to it
        # Its own keys, before construct_mapping flattens merges (`<<: *base`) into node.value: a
        # merged key may be overridden, a key written twice may not.
        own = [k for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
        data.update(self.construct_mapping(node))
        repeated = _first_repeat(self.construct_object(k) for k in own)
        if repeated is not None:
            self.twice.append((data, repeated))


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)


def _first_repeat(keys: Iterable[Any]) -> Any:
    """The first key seen twice (None if none)."""
    seen: set[Any] = set()
    for key in keys:
        if isinstance(key, Hashable):
            if key in seen:
                return key
            seen.add(key)
    return None


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
