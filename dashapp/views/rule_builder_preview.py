"""The rule builder's preview: a rule's explanation rendered on a sample event by the language's renderer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from dash import html

from common.rulelang.document import parse_custom
from common.rulelang.explain import field_formatter, leaf_formatter, parse_template, render
from common.rulelang.facts import event_facts
from common.rulelang.model import BOOL_FEATURES, FIELDS, Cond, leaves
from common.rules import RuleValidationError
from common.schema import Transaction

# Shown when Redis has no transaction yet (a fresh install): an ordinary online purchase.
BUILTIN_SAMPLE = Transaction(
    txn_id="sample-0001",
    ts=datetime(2026, 1, 15, 14, 30, tzinfo=UTC),
    card_id="C-000042",
    account_id="A-000042",
    amount=1890.0,
    currency="USD",
    merchant_id="M-000123",
    merchant_category="electronics",
    city="Paris",
    country="FR",
    lat=48.8566,
    lon=2.3522,
    channel="online",
)
_TXN_FIELDS = tuple(Transaction.__struct_fields__)


def sample_from_row(row: Any) -> Transaction | None:
    """A recent transaction row (dashapp.store TxnRow) as a schema event; None if it is not one."""
    try:
        return msgspec.convert({f: getattr(row, f, None) for f in _TXN_FIELDS}, Transaction, strict=False)
    except (msgspec.ValidationError, TypeError):
        return None


def _observed(leaf: Cond, facts: Mapping[str, Any]) -> Any:
    """What a leaf shows in the preview: the event's field, else the leaf at its limit (no card history)."""
    if leaf.field is not None and leaf.list_ is None:
        return facts.get(leaf.field)
    if leaf.list_ is not None:
        return facts.get(str(leaf.field))
    if leaf.feature in BOOL_FEATURES:
        return True
    value = leaf.value
    if isinstance(value, tuple):
        value = value[0] if value else 0
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def explanation(rule: Mapping[str, Any], event: Transaction, rates: Mapping[str, float]) -> str:
    """The rule's `explain` filled from `event` (RuleValidationError if the rule does not parse)."""
    parsed = parse_custom(dict(rule), "rule")
    facts = event_facts(event, rates)
    formatters = {f: field_formatter(f, rates) for f in FIELDS}
    names: dict[str, Cond] = {leaf.as_: leaf for leaf in leaves(parsed.when) if leaf.as_}
    for name, leaf in names.items():
        facts[name] = _observed(leaf, facts)
        key = leaf.field if leaf.field is not None and leaf.agg is None and leaf.list_ is None else name
        formatters[name] = leaf_formatter(leaf, str(key), rates)
    parts = parse_template(parsed.explain, "rule.explain", names)
    return render(parts, formatters, facts)


def preview_view(
    rule: Mapping[str, Any], event: Transaction, real: bool, rates: Mapping[str, float]
) -> list[Any]:
    """The preview panel: the explanation text and where the sample came from."""
    if rule.get("builtin"):
        return [
            html.P(
                "Built-in rules explain themselves (e.g. the amount against the limit).", className="muted"
            )
        ]
    try:
        text = explanation(rule, event, rates)
    except RuleValidationError:
        return [html.P("The preview appears once the rule is valid.", className="muted")]
    except (KeyError, TypeError, ValueError) as exc:  # a value the formatter cannot show: say so, never crash
        return [html.P(f"No preview: {exc}", className="muted")]
    origin = "the newest transaction in the stream" if real else "a built-in sample (no transaction seen yet)"
    where = f"{event.amount:,.2f} {event.currency} at {event.merchant_id} ({event.merchant_category}), "
    where += f"{event.channel}, {event.city}"
    return [
        html.P(html.Q(text, id="rb-preview-text"), className="rb-preview-text"),
        html.P(
            f"On {origin}: {where}. Aggregates and card features are shown at their limits "
            "(the preview has no card history).",
            className="muted",
        ),
    ]
