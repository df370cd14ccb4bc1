"""The rule builder's form model: a condition as rows (field, aggregate, feature, list) and back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from common.rulelang import model as m
from dashapp.views.rules_form import parse_number

# The language's vocabulary, from the language itself (common.rulelang.model); the validator judges.
NUMBER_FIELDS = (*m.NUMBER_FIELDS, "hour")  # typed as numbers in the form
STRING_FIELDS = m.STRING_FIELDS  # what a list row can test
FIELDS = (*m.NUMBER_FIELDS[::-1], *m.STRING_FIELDS, "hour", "weekday")  # amount_usd first: the common one
OPS = m.FIELD_OPS
AGG_OPS = ("eq", "ne", *m.ORDER_OPS, "between")
OP_LABELS = {
    "eq": "=",
    "ne": "\u2260",
    "lt": "<",
    "le": "\u2264",
    "gt": ">",
    "ge": "\u2265",
    "in": "in",
    "not_in": "not in",
    "between": "between",
    "starts_with": "starts with",
    "in_list": "in list",
    "not_in_list": "not in list",
}
AGG_KINDS = m.AGG_KINDS
AGG_OF: dict[str, tuple[str, ...]] = {kind: ("amount_usd",) for kind in m.MONEY_AGGS}
AGG_OF |= {"count": ("",), "distinct": m.DISTINCT_OF}
WHERE_FIELDS = m.WHERE_FIELDS
WINDOWS = ("30s", "1m", "5m", "10m", "15m", "30m", "1h", "2h", "6h", "12h", "24h", "2d", "7d")
FEATURES = m.FEATURES
BOOL_FEATURES = tuple(m.BOOL_FEATURES)
LIST_OPS = m.LIST_OPS
KINDS = ("field", "agg", "feature", "list")
# Each row kind's parts, in the order the form shows them (all strings in the form).
PARTS: dict[str, tuple[str, ...]] = {
    "field": ("field", "op", "value", "as"),
    "agg": ("agg", "of", "window", "where_field", "where_op", "where_value", "op", "value", "as"),
    "feature": ("feature", "op", "value", "as"),
    "list": ("field", "op", "list", "as"),
}
Row = dict[str, Any]  # {"kind": ..., part: text}


class NotAForm(ValueError):
    """A condition the form cannot show (nested groups, a combined `where`): use the raw view."""


def blank_row(kind: str) -> Row:
    """A new row of `kind` with sensible first choices."""
    start = {
        "field": {"field": "amount_usd", "op": "gt", "value": ""},
        "agg": {"agg": "count", "of": "", "window": "1h", "op": "ge", "value": ""},
        "feature": {"feature": "distance_km", "op": "gt", "value": ""},
        "list": {"field": "card_id", "op": "in_list", "list": ""},
    }[kind]
    return {"kind": kind, **{p: "" for p in PARTS[kind]}, **start}


# --- document -> form ----------------------------------------------------------------------------
def _num_text(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def value_text(op: str, value: Any) -> str:
    """A leaf's value as typed in the form: lists comma-separated, `between` as "low to high"."""
    if op == "between" and isinstance(value, list | tuple) and len(value) == 2:
        return f"{_num_text(value[0])} to {_num_text(value[1])}"
    if isinstance(value, list | tuple):
        return ", ".join(_num_text(v) for v in value)
    return "" if value is None else _num_text(value)


def _window_text(w: Any) -> str:
    return str(w) if not isinstance(w, int) or isinstance(w, bool) else f"{w}s"


def _leaf_row(leaf: Mapping[str, Any]) -> Row:
    """One leaf condition as a row; NotAForm for anything the form has no row for."""
    alias = str(leaf.get("as", "") or "")
    if "field" in leaf and "list" in leaf:
        return {
            "kind": "list",
            "field": leaf["field"],
            "op": leaf.get("op", ""),
            "list": leaf["list"],
            "as": alias,
        }
    if "field" in leaf:
        op = str(leaf.get("op", ""))
        return {
            "kind": "field",
            "field": leaf["field"],
            "op": op,
            "value": value_text(op, leaf.get("value")),
            "as": alias,
        }
    if "feature" in leaf:
        op = str(leaf.get("op", ""))
        text = value_text(op, leaf.get("value"))
        return {"kind": "feature", "feature": leaf["feature"], "op": op, "value": text, "as": alias}
    if "agg" in leaf:
        where = leaf.get("where") or {}
        if where and not ("field" in where and "list" not in where):
            raise NotAForm("an aggregate's `where` combines several conditions")
        wop = str(where.get("op", "")) if where else ""
        op = str(leaf.get("op", ""))
        return {
            "kind": "agg",
            "agg": leaf["agg"],
            "of": str(leaf.get("of", "") or ""),
            "window": _window_text(leaf.get("window", "")),
            "where_field": str(where.get("field", "")) if where else "",
            "where_op": wop,
            "where_value": value_text(wop, where.get("value")) if where else "",
            "op": op,
            "value": value_text(op, leaf.get("value")),
            "as": alias,
        }
    raise NotAForm("a nested group (all/any/not inside the top level)")


def condition_to_rows(when: Any) -> tuple[str, list[Row]]:
    """(combinator, rows) for a rule's `when`; NotAForm when the form cannot show it."""
    if not isinstance(when, Mapping):
        raise NotAForm("the condition is not an object")
    for comb in ("all", "any"):
        if comb in when and len(when) == 1:
            items = when[comb]
            if not isinstance(items, list):
                raise NotAForm(f"`{comb}` is not a list")
            if any(not isinstance(c, Mapping) for c in items):
                raise NotAForm("a condition is not an object")
            return comb, [_leaf_row(c) for c in items]
    if "not" in when:
        raise NotAForm("a `not` group")
    return "all", [_leaf_row(when)]


# --- form -> document ----------------------------------------------------------------------------
def _scalar(text: str, numeric: bool) -> Any:
    """A typed scalar: numbers for numeric fields (as typed when not one: the validator names it)."""
    text = text.strip()
    if not numeric:
        return text
    return parse_number(text)


def parse_value(op: str, text: Any, numeric: bool) -> Any:
    """The value the form's text stands for under `op` (lists split on commas; between on "to")."""
    raw = "" if text is None else str(text)
    if op in ("in", "not_in"):
        return [_scalar(part, numeric) for part in raw.split(",") if part.strip()]
    if op == "between":
        for sep in (" to ", "..", "\u2013"):
            if sep in raw:
                low, high = raw.split(sep, 1)
                return [_scalar(low, numeric), _scalar(high, numeric)]
        return raw.strip()  # one value: the validator says "expected [low, high]"
    return _scalar(raw, numeric)


def _feature_value(feature: str, op: str, text: Any) -> Any:
    raw = str(text or "").strip()
    if feature in BOOL_FEATURES:
        return {"true": True, "yes": True, "false": False, "no": False}.get(raw.lower(), raw)
    return parse_value(op, raw, numeric=True)


def _window(text: Any) -> Any:
    raw = str(text or "").strip()
    return int(raw) if raw.isdigit() else raw


def row_to_leaf(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row as a leaf condition (values typed; what does not parse is left for the validator)."""
    kind, op = row.get("kind"), str(row.get("op") or "")
    leaf: dict[str, Any]
    if kind == "field":
        field = str(row.get("field") or "")
        leaf = {"field": field, "op": op, "value": parse_value(op, row.get("value"), field in NUMBER_FIELDS)}
    elif kind == "list":
        leaf = {"field": str(row.get("field") or ""), "op": op, "list": str(row.get("list") or "")}
    elif kind == "feature":
        feature = str(row.get("feature") or "")
        leaf = {"feature": feature, "op": op, "value": _feature_value(feature, op, row.get("value"))}
    elif kind == "agg":
        agg = str(row.get("agg") or "")
        leaf = {"agg": agg}
        if row.get("of"):
            leaf["of"] = str(row["of"])
        leaf["window"] = _window(row.get("window"))
        wfield = str(row.get("where_field") or "")
        if wfield:
            wop = str(row.get("where_op") or "")
            numeric = wfield in NUMBER_FIELDS
            leaf["where"] = {
                "field": wfield,
                "op": wop,
                "value": parse_value(wop, row.get("where_value"), numeric),
            }
        leaf["op"] = op
        leaf["value"] = parse_value(op, row.get("value"), numeric=True)
    else:
        raise ValueError(f"unknown row kind {kind!r}")
    alias = str(row.get("as") or "").strip()
    if alias:
        leaf["as"] = alias
    return leaf


def rows_to_condition(combinator: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The rule's `when` for the form: always one top-level group, so row i is `when.<comb>[i]`."""
    comb = combinator if combinator in ("all", "any") else "all"
    return {comb: [row_to_leaf(r) for r in rows]}


def rows_from_inputs(ids: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> list[Row]:
    """Rebuild the rows from the form's inputs (pattern ids {row, part, kind}), in row order."""
    rows: dict[int, Row] = {}
    for i, value in zip(ids, values, strict=False):
        try:
            n = int(i.get("row"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        kind = str(i.get("kind"))
        part = str(i.get("part"))
        if kind not in PARTS or part not in PARTS[kind]:
            continue  # forged ids are dropped, not trusted
        row = rows.setdefault(n, {"kind": kind})
        row[part] = "" if value is None else value
    return [rows[n] for n in sorted(rows)]
