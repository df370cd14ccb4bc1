"""A key written twice in one object, or a rule id used twice, is refused with the path of the second."""

from __future__ import annotations

import json

import pytest
import yaml

from common.rulelang import load_text, parse_document
from common.rules import RuleValidationError
from tests.rulelang.helpers import custom, doc

_JSON = json.dumps(doc(custom()))
_YAML = yaml.safe_dump(doc(custom()), sort_keys=False)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"format": 1, "format": 1}', "format"),
        (_JSON.replace('"op": "gt"', '"op": "gt", "op": "lt"'), "rules[7].when.op"),
        (_JSON.replace('"enabled": true', '"enabled": true, "enabled": false', 1), "rules[0].enabled"),
        ("format: 1\nformat: 1\n", "format"),
        (_YAML.replace("  op: gt\n", "  op: gt\n    op: lt\n"), "rules[7].when.op"),
        ("rules:\n- {id: a_rule, score: 0.5, score: 0.9}\n", "rules[0].score"),
    ],
)
def test_a_key_written_twice_is_refused_with_its_path(text: str, path: str) -> None:
    with pytest.raises(RuleValidationError) as info:
        load_text(text)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: the key ")
    assert "appears twice" in str(info.value)


def test_yaml_merge_keys_may_be_overridden_and_equal_keys_in_other_objects_are_fine() -> None:
    text = "base: &b {op: gt, value: 1}\nrule:\n  <<: *b\n  value: 2\nother: {op: gt}\n"
    assert load_text(text) == {
        "base": {"op": "gt", "value": 1},
        "rule": {"op": "gt", "value": 2},
        "other": {"op": "gt"},
    }
    assert load_text('{"a": {"k": 1}, "b": {"k": 1}}') == {"a": {"k": 1}, "b": {"k": 1}}


def test_a_rule_id_used_twice_names_the_second_rule() -> None:
    with pytest.raises(RuleValidationError) as info:
        parse_document(doc(custom(), custom(), custom()))
    assert info.value.path == "rules[8].id"
    assert str(info.value) == 'rules[8].id: the id "online_big" is already used by rules[7]'
