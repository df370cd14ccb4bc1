"""Display spoofing (issue 15): stream text with control or invisible characters is dead-lettered."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kafka.consumer.fetcher import ConsumerRecord

from bridge.detection import Detector
from bridge.native import NativePath
from bridge.validation import SCHEMA, Rejected, validate
from common.rules import default_rules
from common.schema import TEXT_FIELDS, Transaction
from tests.native_gate import needs_native

GOOD = {
    "txn_id": "t-1",
    "ts": "2026-11-30T00:53:20.000Z",
    "card_id": "C-1",
    "account_id": "A-1",
    "amount": 42.5,
    "currency": "EUR",
    "merchant_id": "M-1",
    "merchant_category": "grocery",
    "city": "Paris",
    "country": "FR",
    "lat": 48.85,
    "lon": 2.35,
    "channel": "pos",
}
# (text, the character reported): right-to-left override, its ASCII-escaped and other invisible kin
SPOOFS = [
    ("C\u202eXSS\u202c-rtl", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("C\u2066X\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("C\u200bX", "U+200B ZERO WIDTH SPACE"),
    ("C\u200dX", "U+200D ZERO WIDTH JOINER"),
    ("\ufeffC", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("C\u00a0X", "U+00A0 NO-BREAK SPACE"),
    ("C\u00adX", "U+00AD SOFT HYPHEN"),
    ("C\u2028X", "U+2028 LINE SEPARATOR"),
    ("C\x00X", "U+0000"),
    ("C\x1b[31mX", "U+001B"),
    ("C\tX", "U+0009"),
    ("C\nX", "U+000A"),
    ("C\x7fX", "U+007F"),
    ("C\x85X", "U+0085"),
    ("C\ue000X", "U+E000"),
]
PRINTABLE = ["Zürich", "São Paulo", "Kraków", "東京", "محمد", "Ελλάδα", "A B-C_d.e/f"]


def encoded(field: str, text: str, *, ascii_only: bool) -> bytes:
    """An event with `text` in `field`: JSON \\u escapes (pure ASCII bytes) or raw UTF-8."""
    return json.dumps({**GOOD, field: text}, ensure_ascii=ascii_only).encode()


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize(("text", "shown"), SPOOFS)
def test_invisible_and_control_characters_are_dead_lettered_with_a_clear_reason(
    field: str, text: str, shown: str
) -> None:
    for ascii_only in (True, False):
        raw = encoded(field, text, ascii_only=ascii_only)
        result = validate(raw, 4096)
        assert isinstance(result, Rejected), (field, text, ascii_only)
        assert result.reason_class == SCHEMA
        assert result.reason.startswith(f"schema: {field} has an invisible or control character {shown}")
        assert f"at index {text.index(next(c for c in text if not c.isprintable()))}" in result.reason


@pytest.mark.parametrize("text", PRINTABLE)
def test_ordinary_text_in_any_script_is_accepted(text: str) -> None:
    for field in TEXT_FIELDS:
        assert isinstance(validate(encoded(field, text, ascii_only=False), 4096), Transaction)


def _record(value: bytes, offset: int) -> Any:
    ts_ms = 1_796_000_000_000
    return ConsumerRecord("transactions", 0, -1, offset, ts_ms, 0, b"k", value, [], None, 1, len(value), -1)


@needs_native()
def test_the_native_path_takes_none_of_them() -> None:
    # It reads plain ASCII records only: JSON escapes and non-ASCII bytes go to the Python path, and
    # a raw DEL (0x7f, legal unescaped in JSON) is outside its printable-ASCII check.
    values = [encoded("card_id", text, ascii_only=a) for text, _ in SPOOFS for a in (True, False)]
    values.append(json.dumps({**GOOD, "city": "Pa\x7fris"}).encode().replace(b"\\u007f", b"\x7f"))
    assert b"\x7f" in values[-1] and values[-1].isascii()
    records = [_record(v, i) for i, v in enumerate([*values, json.dumps(GOOD).encode()])]
    path = NativePath(default_rules(), 4096, 1000)
    loaded: dict[str, bytes | None] = {card: None for card in path.scan(records)}
    result = path.detect(records, Detector(default_rules()), 1, loaded)
    assert [p.meta.offset for p in result.rejected] == list(range(len(values)))
    assert all(isinstance(p.result, Rejected) and p.result.reason_class == SCHEMA for p in result.rejected)
    assert result.scored == 1  # the clean record went through as usual
