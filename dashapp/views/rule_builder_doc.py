"""The rule builder's draft: a rules document edited in the browser, published as one new version."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple

from common.rules import RuleValidationError
from dashapp.views.rule_builder_paths import error_path, error_text, target_of
from dashapp.views.rule_builder_rows import Row, rows_to_condition

Doc = dict[str, Any]
Validate = Callable[[Any, Collection[str] | None], Any]  # common.rulelang.parse_document


class Problems(NamedTuple):
    """Validation of one rule in its document: messages by meta field, by row, and the rest."""

    meta: dict[str, str]
    rows: dict[int, tuple[str, str]]  # row -> (part, message)
    other: str

    @property
    def ok(self) -> bool:
        return not (self.meta or self.rows or self.other)


NO_PROBLEMS = Problems({}, {}, "")


def rules_of(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The document's rules (a list of objects; anything else reads as none)."""
    rules = doc.get("rules") if isinstance(doc, Mapping) else None
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def is_builtin(rule: Mapping[str, Any]) -> bool:
    """A built-in family (it can be disabled, never deleted)."""
    return bool(rule.get("builtin"))


def index_of(doc: Mapping[str, Any], rule_id: str) -> int:
    """The rule's position in the document, -1 if it is not there."""
    return next((i for i, r in enumerate(rules_of(doc)) if r.get("id") == rule_id), -1)


def _with_rules(doc: Mapping[str, Any], rules: list[dict[str, Any]]) -> Doc:
    out = copy.deepcopy(dict(doc))
    out["rules"] = rules
    return out


def put_rule(doc: Mapping[str, Any], index: int, rule: Mapping[str, Any]) -> Doc:
    """The document with `rule` at `index` (replacing it) or appended (index -1)."""
    rules = copy.deepcopy(rules_of(doc))
    if 0 <= index < len(rules):
        rules[index] = dict(rule)
    else:
        rules.append(dict(rule))
    return _with_rules(doc, rules)


def fresh_id(doc: Mapping[str, Any], base: str) -> str:
    """An id not used in the document: `base_copy`, `base_copy_2`, ... (ids are at most 48 chars)."""
    taken = {r.get("id") for r in rules_of(doc)}
    stem = f"{base[:40]}_copy"
    n, candidate = 1, stem
    while candidate in taken:
        n += 1
        candidate = f"{stem}_{n}"
    return candidate


def duplicate(doc: Mapping[str, Any], rule_id: str) -> dict[str, Any] | None:
    """A custom copy of a rule under a new id (a built-in's copy keeps its own condition only)."""
    i = index_of(doc, rule_id)
    if i < 0 or is_builtin(rules_of(doc)[i]):
        return None
    rule = copy.deepcopy(rules_of(doc)[i])
    rule["id"] = fresh_id(doc, rule_id)
    rule["name"] = f"{rule.get('name', rule_id)} (copy)"[:100]
    return rule


def toggle(doc: Mapping[str, Any], rule_id: str) -> Doc:
    """The document with the rule enabled <-> disabled."""
    rules = copy.deepcopy(rules_of(doc))
    for r in rules:
        if r.get("id") == rule_id:
            r["enabled"] = not r.get("enabled", True)
    return _with_rules(doc, rules)


def delete(doc: Mapping[str, Any], rule_id: str) -> Doc:
    """The document without a custom rule; built-ins stay (they can only be disabled)."""
    keep = [r for r in rules_of(doc) if r.get("id") != rule_id or is_builtin(r)]
    return _with_rules(doc, copy.deepcopy(keep))


def form_rule(
    base: Mapping[str, Any], meta: Mapping[str, Any], combinator: str, rows: Sequence[Row]
) -> dict[str, Any]:
    """The rule the form shows: its meta fields over `base`; custom rules get `when` from the rows.

    A built-in keeps `builtin` and `params` (edited in the parameter editor or the raw view).
    """
    rule = {k: v for k, v in base.items() if k not in ("when", "explain")} if base else {}
    rule.update(meta)
    if is_builtin(base):
        rule.pop("explain", None)
        rule["id"] = base.get("id")  # a built-in's id is its family
        return rule
    rule["when"] = rows_to_condition(combinator, rows)
    return rule


def check_rule(
    doc: Mapping[str, Any], index: int, validate: Validate, known_lists: Collection[str] | None
) -> Problems:
    """Validate the whole document and say where the first problem is, as the form shows it."""
    try:
        validate(doc, known_lists)
    except RuleValidationError as exc:
        target = target_of(error_path(exc), index)
        text = error_text(exc)
        rules = rules_of(doc)
        own_id = rules[index].get("id") if 0 <= index < len(rules) else None
        if target.where == "doc" and error_path(exc) == "rules" and f'"{own_id}"' in text:
            return Problems({"id": text}, {}, "")  # a duplicate id is named at `rules`: it is this rule's id
        if target.where == "meta":
            return Problems({target.part: text}, {}, "")
        if target.where == "row":
            return Problems({}, {target.row: (target.part, text)}, "")
        return Problems({}, {}, str(exc) if target.where == "doc" else text)
    return NO_PROBLEMS


def changes(live: Mapping[str, Any], draft: Mapping[str, Any]) -> list[str]:
    """What publishing the draft would change, one line per rule (and one for other sections)."""
    before = {r.get("id"): r for r in rules_of(live)}
    after = {r.get("id"): r for r in rules_of(draft)}
    out = [f"added {rid}" for rid in after if rid not in before]
    out += [f"removed {rid}" for rid in before if rid not in after]
    for rid, rule in after.items():
        old = before.get(rid)
        if old is not None and old != rule:
            fields = sorted(k for k in set(old) | set(rule) if old.get(k) != rule.get(k))
            out.append(f"changed {rid} ({', '.join(fields)})")
    rest = sorted(k for k in set(live) | set(draft) if k != "rules" and live.get(k) != draft.get(k))
    out += [f"changed {k}" for k in rest]
    return out
