"""Validating one condition tree of a custom rule into its canonical Cond, naming the path of any problem."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from common.rulelang import model as m
from common.rulelang.checks import fail, integer, keys_of, list_name, number, show, text
from common.rulelang.model import Cond

_ID = re.compile(m.AS_PATTERN)
_WINDOW = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_COMBINATORS = ("all", "any", "not")
_KEYS = {
    "field": ("field", "op", "value", "as"),
    "list": ("field", "op", "list", "as"),
    "agg": ("agg", "of", "window", "where", "op", "value", "as"),
    "feature": ("feature", "op", "value", "as"),
}


class Context:
    """What one rule's condition has used so far: leaves, `as` names; and the lists that exist."""

    def __init__(self, known_lists: Collection[str] | None) -> None:
        self.known_lists = known_lists
        self.leaves = 0
        self.names: set[str] = set()


def condition(obj: Any, path: str, ctx: Context, depth: int = 1) -> Cond:
    """Validate one condition (a combinator or a leaf) into its canonical Cond."""
    if depth > m.MAX_DEPTH:
        raise fail(path, f"conditions nest at most {m.MAX_DEPTH} levels deep")
    if not isinstance(obj, Mapping):
        raise fail(path, f"expected a condition (an object), got {show(obj)}")
    if any(k in obj for k in _COMBINATORS):
        return _combinator(obj, path, ctx, depth)
    shape = next((s for s in ("agg", "feature", "list") if s in obj), None)
    if shape is None and obj.get("op") in m.LIST_OPS:
        shape = "list"
    if shape is None and "field" not in obj:
        raise fail(path, "expected one of all, any, not, field, agg, feature")
    shape = shape or "field"
    keys_of(obj, path, _KEYS[shape], "a condition")
    ctx.leaves += 1
    if ctx.leaves > m.MAX_LEAVES:
        raise fail(path, f"a condition has at most {m.MAX_LEAVES} leaves")
    name = _as_name(obj.get("as"), f"{path}.as", ctx) if "as" in obj else None
    if shape == "agg":
        return _agg(obj, path, ctx, depth, name)
    if shape == "feature":
        return _feature(obj, path, name)
    if shape == "list":
        return _list(obj, path, ctx, name)
    return field_leaf(obj, path, m.FIELDS, name)


def _combinator(obj: Mapping[str, Any], path: str, ctx: Context, depth: int) -> Cond:
    if len(obj) != 1:
        raise fail(path, f"a combinator stands alone, got keys {', '.join(map(str, obj))}")
    ((key, inner),) = obj.items()
    if key == "not":
        return Cond(not_=condition(inner, f"{path}.not", ctx, depth + 1))
    if not isinstance(inner, list | tuple) or not inner:
        raise fail(f"{path}.{key}", f"expected a non-empty list of conditions, got {show(inner)}")
    if len(inner) > m.MAX_LEAVES:
        raise fail(f"{path}.{key}", f"a condition has at most {m.MAX_LEAVES} leaves")
    items = tuple(condition(c, f"{path}.{key}[{i}]", ctx, depth + 1) for i, c in enumerate(inner))
    return Cond(all_=items) if key == "all" else Cond(any_=items)


def _as_name(obj: Any, path: str, ctx: Context) -> str:
    if not isinstance(obj, str) or not _ID.fullmatch(obj):
        raise fail(path, f"expected a name like 'countries' ([a-z][a-z0-9_]{{0,31}}), got {show(obj)}")
    if obj in m.FIELDS:
        raise fail(path, f"{show(obj)} is an event field's name; pick another")
    if obj in ctx.names:
        raise fail(path, f"{show(obj)} is already used in this rule")
    ctx.names.add(obj)
    return obj


def _op(obj: Mapping[str, Any], path: str, allowed: Collection[str], what: str) -> str:
    op = obj.get("op")
    if op not in allowed:
        raise fail(f"{path}.op", f"expected one of {', '.join(allowed)} for {what}, got {show(op)}")
    return str(op)


def field_leaf(obj: Mapping[str, Any], path: str, fields: Collection[str], name: str | None) -> Cond:
    """An event-field condition on one of `fields` (the where-filter passes a narrower set)."""
    field = obj.get("field")
    if field not in fields:
        raise fail(f"{path}.field", f"expected one of {', '.join(fields)}, got {show(field)}")
    numeric = field in m.NUMBER_FIELDS or field == "hour"
    ops = m.FIELD_OPS if field in m.STRING_FIELDS else tuple(o for o in m.FIELD_OPS if o != "starts_with")
    if not numeric:
        ops = tuple(o for o in ops if o not in (*m.ORDER_OPS, "between"))
    op = _op(obj, path, ops, str(field))
    if "value" not in obj:
        raise fail(f"{path}.value", "missing")
    value = operand(obj["value"], f"{path}.value", op, lambda v, p: _scalar(str(field), v, p))
    return Cond(field=str(field), op=op, value=value, as_=name)


def operand(obj: Any, path: str, op: str, one: Any) -> m.Value:
    """The value of an `op` condition: a list for in/not_in, [low, high] for between, else one scalar."""
    if op in ("in", "not_in"):
        if not isinstance(obj, list | tuple) or not 1 <= len(obj) <= m.MAX_IN_VALUES:
            raise fail(path, f"expected a list of 1..{m.MAX_IN_VALUES} values, got {show(obj)}")
        return tuple(one(v, f"{path}[{i}]") for i, v in enumerate(obj))
    if op == "between":
        if not isinstance(obj, list | tuple) or len(obj) != 2:
            raise fail(path, f"expected [low, high], got {show(obj)}")
        low, high = one(obj[0], f"{path}[0]"), one(obj[1], f"{path}[1]")
        if low > high:
            raise fail(path, f"low {show(low)} is above high {show(high)}")
        return (low, high)
    return one(obj, path)


def _scalar(field: str, obj: Any, path: str) -> str | int | float:
    if field in m.NUMBER_FIELDS:
        return number(obj, path, field)
    if field == "hour":
        return integer(obj, path, "hour", 0, 23)
    if field == "weekday":
        if obj not in m.WEEKDAYS:
            raise fail(path, f"expected one of {', '.join(m.WEEKDAYS)} for weekday, got {show(obj)}")
        return str(obj)
    if not isinstance(obj, str):
        hint = " (quote it: YAML reads no/yes/on/off as true/false)" if isinstance(obj, bool) else ""
        raise fail(path, f"expected a string for {field}, got {show(obj)}{hint}")
    return text(obj, path)


def _feature(obj: Mapping[str, Any], path: str, name: str | None) -> Cond:
    feature = obj.get("feature")
    if feature not in m.FEATURES:
        raise fail(f"{path}.feature", f"expected one of {', '.join(m.FEATURES)}, got {show(feature)}")
    if feature in m.BOOL_FEATURES:
        op = _op(obj, path, ("eq", "ne"), str(feature))
        value = obj.get("value")
        if not isinstance(value, bool):
            raise fail(f"{path}.value", f"expected true or false for {feature}, got {show(value)}")
        return Cond(feature=str(feature), op=op, value=value, as_=name)
    op = _op(obj, path, ("eq", "ne", *m.ORDER_OPS, "between"), str(feature))
    value = operand(obj.get("value"), f"{path}.value", op, lambda v, p: number(v, p, str(feature)))
    return Cond(feature=str(feature), op=op, value=value, as_=name)


def _list(obj: Mapping[str, Any], path: str, ctx: Context, name: str | None) -> Cond:
    field = obj.get("field")
    if field not in m.STRING_FIELDS:
        raise fail(
            f"{path}.field",
            f"lists hold strings: expected one of {', '.join(m.STRING_FIELDS)}, got {show(field)}",
        )
    op = _op(obj, path, m.LIST_OPS, "a list")
    return Cond(
        field=str(field), op=op, list_=list_name(obj.get("list"), f"{path}.list", ctx.known_lists), as_=name
    )


def _agg(obj: Mapping[str, Any], path: str, ctx: Context, depth: int, name: str | None) -> Cond:
    kind = obj.get("agg")
    if kind not in m.AGG_KINDS:
        raise fail(f"{path}.agg", f"expected one of {', '.join(m.AGG_KINDS)}, got {show(kind)}")
    of = obj.get("of")
    if kind == "count":
        if "of" in obj:
            raise fail(f"{path}.of", "count counts transactions; it takes no 'of' (filter with 'where')")
    elif kind == "distinct":
        if of not in m.DISTINCT_OF:
            raise fail(f"{path}.of", f"expected one of {', '.join(m.DISTINCT_OF)}, got {show(of)}")
    elif of != "amount_usd":
        raise fail(f"{path}.of", f"{kind} reads amount_usd, got {show(of)}")
    window = _window(obj.get("window"), f"{path}.window")
    where = None
    if "where" in obj:
        where = _where(obj["where"], f"{path}.where", ctx, depth + 1)
    op = _op(obj, path, ("eq", "ne", *m.ORDER_OPS, "between"), f"{kind}")
    if kind in ("count", "distinct"):
        value = operand(
            obj.get("value"),
            f"{path}.value",
            op,
            lambda v, p: integer(
                v, p, f"{kind} (the per-card history holds {m.MAX_AGG_COUNT})", 0, m.MAX_AGG_COUNT
            ),
        )
    else:
        value = operand(obj.get("value"), f"{path}.value", op, lambda v, p: number(v, p, f"{kind}"))
    return Cond(agg=str(kind), of=of, window=window, where=where, op=op, value=value, as_=name)


def _window(obj: Any, path: str) -> int | str:
    seconds = None
    if isinstance(obj, int) and not isinstance(obj, bool):
        seconds = obj
    elif isinstance(obj, str) and _WINDOW.fullmatch(obj):
        seconds = m.window_seconds(obj)
    if seconds is None:
        raise fail(path, f"expected seconds or a duration like 30s, 15m, 24h, 7d; got {show(obj)}")
    if not 1 <= seconds <= m.MAX_WINDOW_S:
        raise fail(path, f"a window is 1 s .. 7 d (per-card history is bounded), got {show(obj)}")
    return obj


def _where(obj: Any, path: str, ctx: Context, depth: int) -> Cond:
    """A filter over past events: field conditions on the history's columns, combined freely."""
    if depth > m.MAX_DEPTH:
        raise fail(path, f"conditions nest at most {m.MAX_DEPTH} levels deep")
    if isinstance(obj, Mapping) and any(k in obj for k in _COMBINATORS):
        if len(obj) != 1:
            raise fail(path, f"a combinator stands alone, got keys {', '.join(map(str, obj))}")
        ((key, inner),) = obj.items()
        if key == "not":
            return Cond(not_=_where(inner, f"{path}.not", ctx, depth + 1))
        if not isinstance(inner, list | tuple) or not 1 <= len(inner) <= m.MAX_LEAVES:
            raise fail(f"{path}.{key}", f"expected a list of 1..{m.MAX_LEAVES} conditions, got {show(inner)}")
        items = tuple(_where(c, f"{path}.{key}[{i}]", ctx, depth + 1) for i, c in enumerate(inner))
        return Cond(all_=items) if key == "all" else Cond(any_=items)
    keys_of(obj, path, ("field", "op", "value"), "a field condition (no aggregates, features, lists or 'as')")
    ctx.leaves += 1
    if ctx.leaves > m.MAX_LEAVES:
        raise fail(path, f"a condition has at most {m.MAX_LEAVES} leaves")
    if obj.get("op") == "starts_with":
        raise fail(
            f"{path}.op", "starts_with cannot filter past events (their history keeps a hash of each value)"
        )
    return field_leaf(obj, path, m.WHERE_FIELDS, None)
