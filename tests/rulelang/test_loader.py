"""Reading documents from text: JSON and YAML, and hostile text refused with a clear error."""

from __future__ import annotations

import json

import pytest

from common.rulelang import load_text, parse_document, to_document
from common.rulelang.loader import MAX_BYTES
from common.rules import RuleValidationError, default_rules
from tests.rulelang.helpers import custom, doc

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)


def test_json_and_yaml_give_the_same_document() -> None:
    body = doc(custom(when={"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 3}))
    as_json = json.dumps(body)
    import yaml

    as_yaml = yaml.safe_dump(body)
    assert load_text(as_json) == load_text(as_yaml) == body
    assert load_text(as_json.encode()) == body
    assert parse_document(load_text(as_yaml)) == parse_document(body)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "nested"),
        ("[" * 30 + "]" * 30, "nested deeper than 24 levels"),
        ("a:" + " {a:" * 40 + " 1" + "}" * 40, "nested deeper than 24 levels"),
        (BOMB, "more than 300,000 values"),
        ("[" + "a," * 100_000 + "a]", "a YAML document has at most 100,000 values (larger: send JSON)"),
        ("- " * 100_000 + "1", "nested deeper than 24 levels"),
        ("a: " + "[" * 100_000, "nested deeper than 24 levels"),
        ("rules: [", "not valid JSON or YAML"),
        ("a: b: c", "not valid JSON or YAML: mapping values are not allowed"),
        ("a: b: c", "at line 1, column 5"),
        ("a: *nope", "not valid JSON or YAML: found undefined alias"),
        ("!!python/object/apply:os.system [ls]", "not valid JSON or YAML: could not determine a constructor"),
        (" " * (MAX_BYTES + 1), f"at most {MAX_BYTES:,} bytes"),
        ("é" * (MAX_BYTES // 2 + 1), "at most"),  # the limit counts UTF-8 bytes, not characters
    ],
)
def test_hostile_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(RuleValidationError) as info:
        load_text(text)
    assert info.value.path == "document"
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("", "document", "expected a rules document"),
        ("just text", "document", "expected a rules document"),
        ("- 1\n- 2", "document", "expected a rules document"),
    ],
)
def test_text_that_loads_but_is_no_document(text: str, path: str, message: str) -> None:
    with pytest.raises(RuleValidationError, match=f"^{path}: {message}"):
        parse_document(load_text(text))


def test_yaml_norway_and_nan_get_clear_errors() -> None:
    body = to_document(default_rules())
    body["rules"].append(custom(when={"field": "country", "op": "eq", "value": "NO"}))
    import yaml

    text = yaml.safe_dump(body).replace("value: 'NO'", "value: NO")  # as an analyst would type it
    assert "value: NO" in text
    with pytest.raises(
        RuleValidationError,
        match=r"^rules\[7\]\.when\.value: expected a string for country, got false \(quote it",
    ):
        parse_document(load_text(text))
    nan = yaml.safe_dump(body).replace("value: 'NO'", "value: .nan")
    with pytest.raises(RuleValidationError, match=r"^rules\[7\]\.when\.value: expected a string for country"):
        parse_document(load_text(nan))
    big = yaml.safe_dump(doc(custom())).replace("value: 1500", "value: .inf")
    with pytest.raises(RuleValidationError, match=r"^rules\[7\]\.when\.value: expected a finite number"):
        parse_document(load_text(big))


def test_yaml_anchors_for_reuse_are_fine_and_json_may_be_large() -> None:
    import yaml

    shared = {"field": "country", "op": "in", "value": ["NG", "RU"]}
    body = doc(custom("rule_one", shared), custom("rule_two", {"not": shared}))
    text = yaml.safe_dump(body)
    assert "&id" in text and "*id" in text  # PyYAML writes the shared condition once
    assert parse_document(load_text(text)) == parse_document(body)
    values = ["x"] * 150_000  # more values than a YAML document may have, well within 1 MB as JSON
    assert load_text(json.dumps({"v": values})) == {"v": values}
