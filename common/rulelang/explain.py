"""Explanation templates: `{name}` placeholders checked when validated, filled by a regex (not str.format)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from common.money import shown, usd
from common.rulelang import model as m
from common.rulelang.checks import fail, show
from common.rulelang.model import Cond

# `{{` and `}}` are literal braces; any other brace must open a well-formed placeholder.
_TOKEN = re.compile(r"\{\{|\}\}|\{([a-z][a-z0-9_]{0,31})\}|[{}]")
Formatter = Callable[[Mapping[str, Any]], str]
Part = str | tuple[str]  # literal text, or (placeholder name,)


def parse_template(template: str, path: str, names: Collection[str]) -> tuple[Part, ...]:
    """Split a template into literal text and placeholders; refuse stray braces and unknown names."""
    parts: list[Part] = []
    last = 0
    for match in _TOKEN.finditer(template):
        parts.append(template[last : match.start()])
        last = match.end()
        token, name = match.group(0), match.group(1)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif name is None:
            raise fail(
                path, f"a lone {show(token)} at character {match.start()} (write {token * 2} for a brace)"
            )
        elif name not in m.FIELDS and name not in names:
            raise fail(path, f"unknown placeholder {{{name}}}: use an event field or a leaf's 'as' name")
        else:
            parts.append((name,))
    parts.append(template[last:])
    return tuple(p for p in parts if p != "")


def number_text(value: float) -> str:
    """A plain number as explanations show it: two decimals, thousands separated."""
    return f"{value:,.2f}"


def leaf_formatter(leaf: Cond, key: str, rates: Mapping[str, float]) -> Formatter:
    """How `{as-name}` shows the value a leaf observed (facts[key])."""
    if leaf.agg is not None:
        if leaf.agg in m.MONEY_AGGS:
            return lambda f: usd(f[key])
        return lambda f: str(int(f[key]))
    if leaf.feature is not None:
        if leaf.feature in m.BOOL_FEATURES:
            return lambda f: "true" if f[key] else "false"
        if leaf.feature == "model_score":
            return lambda f: score_text(f[key], f)
        return lambda f: number_text(f[key])
    return field_formatter(key, rates)


def field_formatter(field: str, rates: Mapping[str, float]) -> Formatter:
    """How `{field}` shows an event field: amounts as the built-ins quote them, strings as they are."""
    if field == "amount":
        return lambda f: shown(f["amount"], f["currency"], f["amount_usd"], rates)
    if field == "amount_usd":
        return lambda f: usd(f["amount_usd"])
    return lambda f: str(f[field])


def score_text(score: float, facts: Mapping[str, Any]) -> str:
    """A model's score with the features that raised it, when the facts know them."""
    try:
        why = facts["model_reasons"]
    except KeyError:  # a preview's or a replay's plain facts: no model has scored them
        why = ""
    return f"{score:.2f} ({why})" if why else f"{score:.2f}"


def render(parts: tuple[Part, ...], formatters: Mapping[str, Formatter], facts: Mapping[str, Any]) -> str:
    """The template filled from `facts` (every placeholder has a formatter: checked at validation)."""
    return "".join(p if isinstance(p, str) else formatters[p[0]](facts) for p in parts)
