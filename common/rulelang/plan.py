"""What compiled rules need from an engine: aggregates (stable keys), features, lists, history columns."""

from __future__ import annotations

import json
from collections.abc import Iterable

import msgspec

from common.rulelang.model import Cond, CustomRule, Suppression, kind_of, leaves, window_seconds

# cs2 history columns (docs/rules-language.md, "Contract for implementers") and what fills them.
COLUMN_OF = {
    "amount_usd": "hist_amt",
    "merchant_id": "hist_merchant",
    "country": "hist_country",
    "city": "hist_city",
    "merchant_category": "hist_category",
    "channel": "hist_channel",
}
SEEN_OF = {
    "new_country": "seen_countries",
    "new_merchant": "seen_merchants",
    "new_category": "seen_categories",
}


class AggSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One per-card aggregate over a sliding event-time window (the event included); `key` names
    its value in the facts and is equal for equal aggregates, whichever rules use them."""

    kind: str  # count | sum | avg | max | distinct
    of: str | None  # amount_usd (sum/avg/max), a DISTINCT_OF field, None for count
    window_ms: int
    where: Cond | None  # over a past event's WHERE_FIELDS; None = every event
    key: str


class FeaturePlan(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the enabled rules and the suppressions read besides the event's own fields."""

    aggs: tuple[AggSpec, ...] = ()  # sorted by key, each once
    features: tuple[str, ...] = ()  # feature names, sorted
    lists: tuple[str, ...] = ()  # list names, sorted
    columns: tuple[str, ...] = ()  # cs2 columns to keep: hist_ms, hist_amt, ..., seen_countries, ...
    longest_ms: int = 0  # the longest aggregate window; 0 = no history ring


def num_text(value: float | int) -> str:
    """A number as keys and limits spell it: whole numbers without a fraction ("2"), others by repr."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def where_text(cond: Cond) -> str:
    """A where-filter as one canonical line: `amount_usd lt 2`,
    `all(channel eq "online",country in ["FR","DE"])` (strings JSON-quoted, numbers by num_text)."""
    if cond.all_ is not None or cond.any_ is not None:
        name, items = ("all", cond.all_) if cond.all_ is not None else ("any", cond.any_ or ())
        return f"{name}({','.join(where_text(c) for c in items)})"
    if cond.not_ is not None:
        return f"not({where_text(cond.not_)})"
    return f"{cond.field} {cond.op} {_value_text(cond.value)}"


def _value_text(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ",".join(_value_text(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return num_text(value)  # type: ignore[arg-type]  # validated: a number


def agg_key(leaf: Cond) -> str:
    """The facts key of an aggregate leaf: `count[1800s]`, `distinct(country)[86400s]`,
    `sum(amount_usd)[3600s] where channel eq "online"` (window in seconds, whatever its spelling)."""
    assert leaf.agg is not None and leaf.window is not None  # validated aggregate leaf
    of = f"({leaf.of})" if leaf.of else ""
    base = f"{leaf.agg}{of}[{window_seconds(leaf.window)}s]"
    return base if leaf.where is None else f"{base} where {where_text(leaf.where)}"


def agg_spec(leaf: Cond) -> AggSpec:
    """The AggSpec of a validated aggregate leaf."""
    assert leaf.agg is not None and leaf.window is not None
    return AggSpec(
        kind=leaf.agg,
        of=leaf.of,
        window_ms=window_seconds(leaf.window) * 1000,
        where=leaf.where,
        key=agg_key(leaf),
    )


def _where_fields(cond: Cond) -> Iterable[str]:
    if cond.all_ is not None or cond.any_ is not None:
        for c in cond.all_ or cond.any_ or ():
            yield from _where_fields(c)
    elif cond.not_ is not None:
        yield from _where_fields(cond.not_)
    elif cond.field is not None:
        yield cond.field


def plan_of(rules: Iterable[CustomRule], suppressions: Iterable[Suppression] = ()) -> FeaturePlan:
    """The plan of these (enabled) rules and the suppressions."""
    aggs: dict[str, AggSpec] = {}
    features: set[str] = set()
    lists = {s.list_ for s in suppressions}
    columns: set[str] = set()
    for rule in rules:
        for leaf in leaves(rule.when):
            kind = kind_of(leaf)
            if kind == "agg":
                spec = agg_spec(leaf)
                aggs[spec.key] = spec
                columns.add("hist_ms")
                for field in (spec.of, *(_where_fields(spec.where) if spec.where else ())):
                    if field is not None:
                        columns.add(COLUMN_OF[field])
            elif kind == "feature":
                assert leaf.feature is not None
                features.add(leaf.feature)
                if leaf.feature in SEEN_OF:
                    columns.add(SEEN_OF[leaf.feature])
            elif kind == "list":
                assert leaf.list_ is not None
                lists.add(leaf.list_)
    return FeaturePlan(
        aggs=tuple(aggs[k] for k in sorted(aggs)),
        features=tuple(sorted(features)),
        lists=tuple(sorted(lists)),
        columns=tuple(sorted(columns)),
        longest_ms=max((a.window_ms for a in aggs.values()), default=0),
    )
