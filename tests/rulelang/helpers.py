"""Building rules documents for the rule-language tests."""

from __future__ import annotations

from typing import Any

from common.rulelang import to_document
from common.rules import default_rules


def custom(rid: str = "online_big", when: Any = None, **fields: Any) -> dict[str, Any]:
    """A custom rule in document form (a field-only condition unless `when` is given)."""
    rule = {
        "id": rid,
        "name": "Online big",
        "description": "",
        "enabled": True,
        "score": 0.6,
        "when": when if when is not None else {"field": "amount_usd", "op": "gt", "value": 1500},
        "explain": "big {amount}",
    }
    rule.update(fields)
    return rule


def doc(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    """The default document (seven built-ins) with these custom rules appended and `top` replaced."""
    body = to_document(default_rules())
    body["rules"].extend(rules)
    body.update(top)
    return body
