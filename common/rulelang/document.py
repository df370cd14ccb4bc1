"""The rules document (docs/rules-language.md) <-> RulesConfig: validation with paths, and its inverse."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from common.rulelang import model as m
from common.rulelang.checks import fail, keys_of, list_name, show, text, unique_ids
from common.rulelang.conditions import Context, condition
from common.rulelang.explain import parse_template
from common.rulelang.model import CustomRule, Suppression
from common.rules import (
    RULE_SPECS,
    RulesConfig,
    RuleValidationError,
    build_config,
    check_value,
    default_rules,
    rules_to_dict,
)

FORMAT = 1
BUILTINS = tuple(name for name in RULE_SPECS if name not in ("alerting", "currency"))
MAX_SUPPRESSIONS = 100
_ID = re.compile(m.ID_PATTERN)
# `version`: the rule-set version an export was read at (GET /api/rules, `rules export`), so an
# exported document can be edited and sent back, as a draft too; it never sets the version.
_TOP = ("format", "alerting", "currency", "rules", "suppressions", "version")
_RULE = ("id", "name", "description", "enabled", "score")
_WEIGHT = RULE_SPECS["high_amount"].fields[1]  # the built-ins' score range, reused for custom scores


def parse_document(obj: Any, known_lists: Collection[str] | None = None) -> RulesConfig:
    """Validate a whole rules document; RuleValidationError names the path of the first problem.

    `known_lists`: the list names that exist (None: any well-formed name is accepted).
    """
    doc = keys_of(obj, "document", _TOP, "a rules document")
    if doc.get("format") != FORMAT or isinstance(doc.get("format"), bool):
        raise fail("format", f"expected {FORMAT}, got {show(doc.get('format'))}")
    version = doc.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise fail("version", f"expected the version number an export carries, got {show(version)}")
    defaults = rules_to_dict(default_rules())
    merged: dict[str, dict[str, Any]] = {
        "alerting": _section(doc.get("alerting", {}), "alerting", defaults["alerting"]),
        "currency": _section(doc.get("currency", {}), "currency", defaults["currency"]),
    }
    rules = doc.get("rules")
    if not isinstance(rules, list | tuple):
        raise fail("rules", f"expected a list of rules, got {show(rules)}")
    if len(rules) > len(BUILTINS) + m.MAX_CUSTOM_RULES:
        raise fail(
            "rules", f"at most {m.MAX_CUSTOM_RULES} custom rules besides the {len(BUILTINS)} built-ins"
        )
    custom: list[CustomRule] = []
    paths: list[str] = []  # each custom rule's path in the document, for a repeated id's error
    for i, raw in enumerate(rules):
        path = f"rules[{i}]"
        if isinstance(raw, Mapping) and "builtin" in raw:
            _builtin(raw, path, defaults, merged)
        else:
            custom.append(parse_custom(raw, path, known_lists))
            paths.append(path)
    missing = [name for name in BUILTINS if name not in merged]
    if missing:
        raise fail("rules", f"built-in {missing[0]} is missing (a built-in can be disabled, not deleted)")
    ids = unique_ids((r.id, p) for r, p in zip(custom, paths, strict=True))
    suppressions = parse_suppressions(doc.get("suppressions", []), "suppressions", ids, known_lists)
    return build_config(merged, tuple(custom), suppressions)


def _section(raw: Any, name: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """The alerting or currency section: its fields checked, the ones it omits from the defaults."""
    return _fields(raw, name, {f.name: f for f in RULE_SPECS[name].fields}, base)


def _fields(raw: Any, path: str, spec: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """An object's fields checked against `spec` (single-sourced ranges), the ones it omits from base."""
    section = keys_of(raw, path, tuple(spec), "an object")
    return {
        name: check_value(f"{path}.{name}", fspec, section[name]) if name in section else base[name]
        for name, fspec in spec.items()
    }


def _builtin(raw: Mapping[str, Any], path: str, defaults: Mapping[str, Any], merged: dict[str, Any]) -> None:
    """A built-in family's entry into merged[family]: enabled, score (its weight) and params."""
    keys_of(raw, path, (*_RULE, "builtin", "params"), "a rule")
    name = raw["builtin"]
    if name not in BUILTINS:
        raise fail(f"{path}.builtin", f"expected one of {', '.join(BUILTINS)}, got {show(name)}")
    if raw.get("id", name) != name:
        raise fail(
            f"{path}.id", f"a built-in's id is its family name {show(name)}, got {show(raw.get('id'))}"
        )
    if name in merged:
        raise fail(f"{path}.builtin", f"built-in {name} appears twice")
    for key in ("name", "description"):  # shown from the built-in's own text; not stored
        if key in raw:
            text(raw[key], f"{path}.{key}", 300)
    spec = {f.name: f for f in RULE_SPECS[name].fields}
    common = {"enabled": raw["enabled"]} if "enabled" in raw else {}
    if "score" in raw:
        common["weight"] = raw["score"]
    params = {k: f for k, f in spec.items() if k not in ("enabled", "weight")}
    out = {k: check_value(f"{path}.{'score' if k == 'weight' else k}", spec[k], v) for k, v in common.items()}
    out.update(_fields(raw.get("params", {}), f"{path}.params", params, defaults[name]))
    merged[name] = {**{k: defaults[name][k] for k in ("enabled", "weight")}, **out}


def parse_custom(raw: Any, path: str, known_lists: Collection[str] | None = None) -> CustomRule:
    """One rule written in the language (its id is checked here; uniqueness by the caller)."""
    rule = keys_of(raw, path, (*_RULE, "when", "explain"), "a rule")
    for key in ("id", "score", "when"):
        if key not in rule:
            raise fail(f"{path}.{key}", "missing")
    rid = rule["id"]
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        raise fail(
            f"{path}.id", f"expected an id like 'online_electronics' ({m.ID_PATTERN}), got {show(rid)}"
        )
    if rid in RULE_SPECS:
        raise fail(f"{path}.id", f"{show(rid)} is a built-in's id; give the rule its own id")
    name = text(rule.get("name", rid), f"{path}.name", empty=False)
    description = text(rule.get("description", ""), f"{path}.description", m.MAX_EXPLAIN)
    enabled = rule.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail(f"{path}.enabled", f"expected true/false, got {show(enabled)}")
    score = check_value(f"{path}.score", _WEIGHT, rule["score"])
    ctx = Context(known_lists)
    when = condition(rule["when"], f"{path}.when", ctx)
    explain = text(rule.get("explain", name), f"{path}.explain", m.MAX_EXPLAIN)
    parse_template(explain, f"{path}.explain", ctx.names)
    return CustomRule(
        id=rid, name=name, description=description, enabled=enabled, score=score, when=when, explain=explain
    )


def parse_custom_list(
    raw: Any, path: str, known_lists: Collection[str] | None = None
) -> tuple[CustomRule, ...]:
    """The stored `custom` section of a RulesConfig: a list of custom rules with unique ids."""
    if not isinstance(raw, list | tuple) or len(raw) > m.MAX_CUSTOM_RULES:
        raise fail(path, f"expected a list of at most {m.MAX_CUSTOM_RULES} custom rules, got {show(raw)}")
    rules = tuple(parse_custom(r, f"{path}[{i}]", known_lists) for i, r in enumerate(raw))
    unique_ids((r.id, f"{path}[{i}]") for i, r in enumerate(rules))
    return rules


def parse_suppressions(
    raw: Any, path: str, custom_ids: Collection[str], known_lists: Collection[str] | None = None
) -> tuple[Suppression, ...]:
    """Suppressions: a listed value of `field` silences `rules` (["*"] = all) for that event."""
    if not isinstance(raw, list | tuple) or len(raw) > MAX_SUPPRESSIONS:
        raise fail(path, f"expected a list of at most {MAX_SUPPRESSIONS} suppressions, got {show(raw)}")
    out: list[Suppression] = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        sup = keys_of(item, where, ("list", "field", "rules"), "a suppression")
        name = list_name(sup.get("list"), f"{where}.list", known_lists)
        field = sup.get("field")
        if field not in m.STRING_FIELDS:
            raise fail(f"{where}.field", f"expected one of {', '.join(m.STRING_FIELDS)}, got {show(field)}")
        rules = sup.get("rules")
        limit = len(BUILTINS) + m.MAX_CUSTOM_RULES
        if not isinstance(rules, list | tuple) or not 1 <= len(rules) <= limit:
            raise fail(f"{where}.rules", f'expected ["*"] or a list of rule ids, got {show(rules)}')
        for j, rid in enumerate(rules):
            if rid == "*" and len(rules) > 1:
                raise fail(f"{where}.rules[{j}]", '"*" already means every rule; list it alone')
            if rid != "*" and rid not in BUILTINS and rid not in custom_ids:
                raise fail(f"{where}.rules[{j}]", f"no rule with the id {show(rid)}")
        out.append(Suppression(list_=name, field=str(field), rules=tuple(rules)))
    return tuple(out)


def to_document(cfg: RulesConfig) -> dict[str, Any]:
    """The document form of a config: parse_document(to_document(cfg)) == cfg."""
    body = rules_to_dict(cfg)
    rules: list[dict[str, Any]] = []
    for name in BUILTINS:
        section, spec = body[name], RULE_SPECS[name]
        rules.append(
            {
                "id": name,
                "name": spec.label,
                "description": spec.description,
                "enabled": section["enabled"],
                "score": section["weight"],
                "builtin": name,
                "params": {k: v for k, v in section.items() if k not in ("enabled", "weight")},
            }
        )
    rules.extend(body.get("custom", []))  # rules_to_dict omits the sections when empty
    return {
        "format": FORMAT,
        "alerting": body["alerting"],
        "currency": body["currency"],
        "rules": rules,
        "suppressions": body.get("suppressions", []),
    }


__all__ = ["RuleValidationError", "parse_custom", "parse_document", "to_document"]
