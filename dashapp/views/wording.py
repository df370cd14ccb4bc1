"""How workflow states, actions and amounts read to an analyst (words, never stored identifiers)."""

from __future__ import annotations

import re

from common.money import format_money

__all__ = ["action_word", "format_money", "in_words", "status_word"]

STATUS_WORDS = {
    "new": "New",
    "acknowledged": "Acknowledged",
    "assigned": "Assigned",
    "resolved_fraud": "Resolved: fraud",
    "resolved_false_positive": "Resolved: false positive",
}
ACTION_WORDS = {
    "acknowledge": "Acknowledged",
    "assign_to_me": "Assigned",
    "resolve_fraud": "Resolved as fraud",
    "resolve_false_positive": "Resolved as false positive",
    "reopen": "Reopened",
}
# identifiers that reach an analyst inside store messages ("alert is already resolved_fraud")
_IDENTIFIER = re.compile(
    r"\b(resolved_false_positive|resolved_fraud|assign_to_me|resolve_false_positive|resolve_fraud)\b"
)
_INLINE = {
    "resolved_false_positive": "resolved as false positive",
    "resolved_fraud": "resolved as fraud",
    "assign_to_me": "assign to me",
    "resolve_false_positive": "resolve as false positive",
    "resolve_fraud": "resolve as fraud",
}


def status_word(status: object) -> str:
    """A status as a word ("Resolved: false positive"); unknown values as given."""
    return STATUS_WORDS.get(str(status), str(status))


def action_word(action: object) -> str:
    """An action as its past-tense word ("Resolved as fraud"); unknown values as given."""
    return ACTION_WORDS.get(str(action), str(action))


def in_words(message: str) -> str:
    """A store message with its status and action identifiers written as words."""
    return _IDENTIFIER.sub(lambda m: _INLINE[m.group(1)], message)
