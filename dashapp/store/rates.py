"""The live rules' exchange rates (US dollars per unit), for the console's dollar figures."""

from __future__ import annotations

import logging
from functools import lru_cache

from common.rules import RuleValidationError, default_rules
from common.rules_doc import decode_rules_doc

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def rates_of(raw: bytes | None) -> dict[str, float]:
    """The `currency` table of a stored rules document (memoised: it changes only on a rule save).

    No document yet: the defaults, which the bridge runs until one is stored. A corrupt one: no
    rates (amounts shown as they are), logged; the rule editor reports the document itself.
    """
    if raw is None:
        return dict(default_rules().currency)
    try:
        return dict(decode_rules_doc(raw).rules.currency)
    except RuleValidationError as exc:
        logger.warning("rates: stored rules document is invalid, amounts shown unconverted: %s", exc)
        return {}
