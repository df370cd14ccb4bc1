"""The rule language's data: conditions, custom rules, suppressions and the vocabulary they use."""

from __future__ import annotations

from typing import Literal

import msgspec

# Event fields a condition can read, by kind. Strings compare exactly (case-sensitive).
NUMBER_FIELDS = ("amount", "amount_usd")
STRING_FIELDS = (
    "currency",
    "merchant_id",
    "merchant_category",
    "channel",
    "country",
    "city",
    "card_id",
    "account_id",
)
FIELDS = (*NUMBER_FIELDS, *STRING_FIELDS, "hour", "weekday")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Past events keep only these (history columns), so `where` and `distinct` can read only these.
WHERE_FIELDS = ("amount_usd", "merchant_id", "merchant_category", "channel", "country", "city")
DISTINCT_OF = ("merchant_id", "country", "city", "merchant_category")
AGG_KINDS = ("count", "sum", "avg", "max", "distinct")
MONEY_AGGS = ("sum", "avg", "max")
# Derived per-card features and their value when the card has no history.
# model_score: the champion model's probability of fraud (docs/model.md "Serving"); 0 without one.
NUMBER_FEATURES = {
    "distance_km": 0.0,
    "speed_kmh": 0.0,
    "amount_ratio": 1.0,
    "since_prev_s": 1_000_000_000.0,
    "model_score": 0.0,
}
BOOL_FEATURES = {"new_country": True, "new_merchant": True, "new_category": True}
FEATURES = (*NUMBER_FEATURES, *BOOL_FEATURES)

ORDER_OPS = ("lt", "le", "gt", "ge")
FIELD_OPS = ("eq", "ne", *ORDER_OPS, "in", "not_in", "between", "starts_with")
LIST_OPS = ("in_list", "not_in_list")

# Bounds (docs/rules-language.md "Bounds").
MAX_CUSTOM_RULES = 100
MAX_DEPTH = 6
MAX_LEAVES = 32
MAX_IN_VALUES = 500
MAX_TEXT = 100
MAX_EXPLAIN = 300
MAX_WINDOW_S = 7 * 86_400
MAX_AGG_COUNT = 32  # per-card history holds the newest 32 transactions in the window
ID_PATTERN = r"[a-z][a-z0-9_]{2,47}"
AS_PATTERN = r"[a-z][a-z0-9_]{0,31}"
LIST_PATTERN = r"[a-z][a-z0-9_]{1,47}"

Scalar = str | int | float | bool
Value = Scalar | tuple[str | int | float, ...]


class Cond(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    repr_omit_defaults=True,
    forbid_unknown_fields=True,
):
    """One validated condition in its canonical document form; exactly one shape is set:

    combinator (`all` / `any` / `not`), event field (`field`+`op`+`value`), list (`field`+`op`+`list`),
    aggregate (`agg`, `of`, `window`, `where`, `op`, `value`) or feature (`feature`+`op`+`value`).
    Numbers are floats except `hour` and count/distinct thresholds (ints); `window` stays as written
    (seconds or "30m"), window_seconds() reads it. Encodes (msgspec) to exactly the document form.
    """

    all_: tuple[Cond, ...] | None = msgspec.field(default=None, name="all")
    any_: tuple[Cond, ...] | None = msgspec.field(default=None, name="any")
    not_: Cond | None = msgspec.field(default=None, name="not")
    agg: str | None = None
    of: str | None = None
    window: int | str | None = None
    where: Cond | None = None
    feature: str | None = None
    field: str | None = None
    op: str | None = None
    value: Value | None = None
    list_: str | None = msgspec.field(default=None, name="list")
    as_: str | None = msgspec.field(default=None, name="as")


class CustomRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A rule written in the language: it adds exactly `score` when `when` holds."""

    id: str
    name: str
    description: str
    enabled: bool
    score: float
    when: Cond
    explain: str


class Suppression(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An event whose `field` is on `list` raises nothing from `rules` ("*" alone = every rule)."""

    list_: str = msgspec.field(name="list")
    field: str
    rules: tuple[str, ...]


Kind = Literal["combinator", "field", "list", "agg", "feature"]


def kind_of(cond: Cond) -> Kind:
    """Which shape a validated condition has."""
    if cond.all_ is not None or cond.any_ is not None or cond.not_ is not None:
        return "combinator"
    if cond.agg is not None:
        return "agg"
    if cond.feature is not None:
        return "feature"
    return "list" if cond.list_ is not None else "field"


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def window_seconds(window: int | str) -> int:
    """Seconds of a validated window: 90, "30s", "15m", "24h", "7d"."""
    if isinstance(window, int):
        return window
    return int(window[:-1]) * _UNITS[window[-1]]


def leaves(cond: Cond) -> list[Cond]:
    """The leaves of a condition in document order (an aggregate's `where` is part of its leaf)."""
    if cond.all_ is not None or cond.any_ is not None:
        return [leaf for c in (cond.all_ or cond.any_ or ()) for leaf in leaves(c)]
    if cond.not_ is not None:
        return leaves(cond.not_)
    return [cond]
