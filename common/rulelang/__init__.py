"""The rule language (docs/rules-language.md), pure: load, validate, compile and evaluate rules as data.

API (import from here or from the submodule named):
- load_text(text) -> Any                                   loader: JSON or YAML, size/depth bounded
- parse_document(obj, known_lists=None) -> RulesConfig     document: RuleValidationError(.path) on error
- to_document(cfg) -> dict                                 document: the exact inverse
- compile_rules(cfg) -> CompiledRules (.rules, .plan)      compile: enabled custom rules as closures
  CompiledRule: .rule_id, .score, .evaluate(facts, lists) -> Reason | None
  FeaturePlan: .aggs (AggSpec: kind, of, window_ms, where, key), .features, .lists, .columns, .longest_ms
- event_facts(event, rates) -> dict                        facts: the event part of Facts
- is_member(snapshot, name, value, event_ms) -> bool       lists: ListSnapshot = {name: {value: expires_ms}}
- suppressed_rules(cfg_or_compiled, facts, lists)          suppress: frozenset of rule ids, or ALL
- model: Cond, CustomRule, Suppression (RulesConfig.custom / .suppressions) and the vocabulary.

The names are loaded on first use: common.rules imports common.rulelang.model, and the validator
imports common.rules, so this package must not import the validator eagerly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from common.rulelang.compile import AggSpec, CompiledRule, CompiledRules, FeaturePlan, compile_rules
    from common.rulelang.document import parse_document, to_document
    from common.rulelang.facts import Facts, event_facts
    from common.rulelang.lists import ListSnapshot, is_member
    from common.rulelang.loader import load_text
    from common.rulelang.suppress import ALL, suppressed_rules

_WHERE = {
    "load_text": "loader",
    "parse_document": "document",
    "to_document": "document",
    "compile_rules": "compile",
    "CompiledRules": "compile",
    "CompiledRule": "compile",
    "FeaturePlan": "compile",
    "AggSpec": "compile",
    "event_facts": "facts",
    "Facts": "facts",
    "is_member": "lists",
    "ListSnapshot": "lists",
    "suppressed_rules": "suppress",
    "ALL": "suppress",
}
__all__ = [
    "ALL",
    "AggSpec",
    "CompiledRule",
    "CompiledRules",
    "Facts",
    "FeaturePlan",
    "ListSnapshot",
    "compile_rules",
    "event_facts",
    "is_member",
    "load_text",
    "parse_document",
    "suppressed_rules",
    "to_document",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
