"""Compiling enabled custom rules once into closures over facts and lists (the hot path), with their plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from common.alerts import Reason
from common.rulelang.explain import Formatter, field_formatter, leaf_formatter, parse_template, render
from common.rulelang.facts import Facts
from common.rulelang.lists import ListSnapshot, is_member
from common.rulelang.model import Cond, CustomRule, Suppression, kind_of, leaves
from common.rulelang.plan import AggSpec, FeaturePlan, agg_key, num_text, plan_of
from common.rules import RulesConfig

Test = Callable[[Facts, ListSnapshot], bool]
__all__ = ["AggSpec", "CompiledRule", "CompiledRules", "FeaturePlan", "compile_rules", "leaf_key"]


def leaf_key(leaf: Cond) -> str:
    """The facts key a leaf reads: an event field, an AggSpec key or a feature name."""
    if leaf.agg is not None:
        return agg_key(leaf)
    return str(leaf.feature if leaf.feature is not None else leaf.field)


def _compare(key: str, op: str, v: Any) -> Test:  # noqa: PLR0911 - one closure per operator, no dispatch
    if op == "eq":
        return lambda f, _: f[key] == v
    if op == "ne":
        return lambda f, _: f[key] != v
    if op == "lt":
        return lambda f, _: f[key] < v
    if op == "le":
        return lambda f, _: f[key] <= v
    if op == "gt":
        return lambda f, _: f[key] > v
    if op == "ge":
        return lambda f, _: f[key] >= v
    if op == "between":
        low, high = v
        return lambda f, _: low <= f[key] <= high
    if op == "starts_with":
        return lambda f, _: f[key].startswith(v)
    members = frozenset(v)
    if op == "in":
        return lambda f, _: f[key] in members
    return lambda f, _: f[key] not in members  # not_in


def _test(cond: Cond) -> Test:
    if cond.all_ is not None:
        return _all(tuple(_test(c) for c in cond.all_))
    if cond.any_ is not None:
        return _any(tuple(_test(c) for c in cond.any_))
    if cond.not_ is not None:
        inner = _test(cond.not_)
        return lambda f, lists: not inner(f, lists)
    if cond.list_ is not None:
        name, field, want = cond.list_, str(cond.field), cond.op == "in_list"
        return lambda f, lists: is_member(lists, name, f[field], f["ts_ms"]) is want
    return _compare(leaf_key(cond), str(cond.op), cond.value)


def _all(items: tuple[Test, ...]) -> Test:
    # Unrolled for the common short conjunctions: a loop costs ~0.3 us more per rule.
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        a, b = items
        return lambda f, lists: a(f, lists) and b(f, lists)
    if len(items) == 3:
        a, b, c = items
        return lambda f, lists: a(f, lists) and b(f, lists) and c(f, lists)

    def every(f: Facts, lists: ListSnapshot) -> bool:
        for t in items:  # noqa: SIM110 - a plain loop: all() over a generator is ~2x slower here
            if not t(f, lists):
                return False
        return True

    return every


def _any(items: tuple[Test, ...]) -> Test:
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        a, b = items
        return lambda f, lists: a(f, lists) or b(f, lists)

    def some(f: Facts, lists: ListSnapshot) -> bool:
        for t in items:  # noqa: SIM110 - a plain loop: any() over a generator is ~2x slower here
            if t(f, lists):
                return True
        return False

    return some


def _plain(value: Any) -> float | str:
    """A Reason's observed/limit: numbers as floats, true/false and lists as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, tuple):
        return ", ".join(v if isinstance(v, str) else num_text(v) for v in value)
    return str(value)


class CompiledRule:
    """One enabled custom rule: evaluate(facts, lists) is its Reason when it fires, else None."""

    __slots__ = ("_formatters", "_limit", "_observed", "_parts", "_test", "rule", "rule_id", "score")
    _limit: float | str

    def __init__(self, rule: CustomRule, rates: Mapping[str, float]) -> None:
        self.rule, self.rule_id, self.score = rule, rule.id, rule.score
        self._test = _test(rule.when)
        named = [leaf for leaf in leaves(rule.when) if leaf.as_ is not None]
        formatters: dict[str, Formatter] = {}
        for leaf in named:
            formatters[str(leaf.as_)] = leaf_formatter(leaf, leaf_key(leaf), rates)
        self._parts = parse_template(rule.explain, f"{rule.id}.explain", formatters)
        for part in self._parts:
            if not isinstance(part, str) and part[0] not in formatters:
                formatters[part[0]] = field_formatter(part[0], rates)
        self._formatters = formatters
        first = named[0] if named else None
        if first is None:
            self._observed, self._limit = "amount_usd", ""
        elif first.list_ is not None:
            self._observed, self._limit = str(first.field), first.list_
        else:
            self._observed, self._limit = leaf_key(first), _plain(first.value)

    def evaluate(self, facts: Facts, lists: ListSnapshot) -> Reason | None:
        """The rule's Reason if its condition holds on these facts (text from its `explain`)."""
        if not self._test(facts, lists):
            return None
        text = render(self._parts, self._formatters, facts)
        return Reason(rule=self.rule_id, observed=_plain(facts[self._observed]), limit=self._limit, text=text)


class CompiledRules:
    """The enabled custom rules of a config, compiled once; `plan` is what the engine must supply."""

    __slots__ = ("plan", "rates", "rules", "suppressions")

    def __init__(self, cfg: RulesConfig) -> None:
        self.rates = dict(cfg.currency)
        enabled = [r for r in cfg.custom if r.enabled]
        self.rules: tuple[CompiledRule, ...] = tuple(CompiledRule(r, self.rates) for r in enabled)
        self.suppressions: tuple[Suppression, ...] = cfg.suppressions
        self.plan: FeaturePlan = plan_of(enabled, cfg.suppressions)

    def evaluate(self, facts: Facts, lists: ListSnapshot) -> list[Reason]:
        """The reasons of every rule that fires, in document order (suppressions not applied)."""
        out = []
        for rule in self.rules:
            reason = rule.evaluate(facts, lists)
            if reason is not None:
                out.append(reason)
        return out


def compile_rules(cfg: RulesConfig) -> CompiledRules:
    """Compile the enabled custom rules of `cfg` (validated: every name and operator is known)."""
    return CompiledRules(cfg)


def kinds(rule: CustomRule) -> set[str]:
    """The leaf kinds a rule uses (field, list, agg, feature): for engines that gate by kind."""
    return {kind_of(leaf) for leaf in leaves(rule.when)}
