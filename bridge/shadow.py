"""The shadow rule set in a bridge: read beside the live rules, evaluated on the same card state."""

from __future__ import annotations

import logging
from copy import copy
from typing import NamedTuple

from bridge.detection import CardState, Decision, Detector
from bridge.detection.facts import EventScores
from common.rulelang.lists import ListSnapshot
from common.rules import RuleValidationError
from common.schema import Transaction
from common.shadow_doc import decode_shadow_doc

logger = logging.getLogger(__name__)


class ShadowSet(NamedTuple):
    """The shadow set a batch evaluates: its id (the alerts' rules_version) and its detector."""

    id: int
    detector: Detector


class ShadowSlot:
    """The shadow set RulesWatcher last read (None: no shadow); replaced whole, never mutated."""

    def __init__(self) -> None:
        self._raw: bytes | None = None
        self.current: ShadowSet | None = None

    def update(self, raw: bytes | None, lists: ListSnapshot) -> bool:
        """Take the stored document (None: dropped); return True when the shadow set changed."""
        if raw == self._raw:
            return False
        self._raw = raw
        if raw is None:
            if self.current is not None:
                logger.info("bridge: shadow rules dropped id=%s", self.current.id)
            self.current = None
            return True
        try:
            doc = decode_shadow_doc(raw)
        except RuleValidationError as exc:
            # never evaluate a half-understood set: stop shadowing and say so (the store validates
            # every publish, so this is a hand-edited key or a newer writer)
            logger.error("bridge: invalid shadow rules ignored error=%s", exc)
            self.current = None
            return True
        self.current = ShadowSet(doc.id, Detector(doc.rules, None, lists))
        logger.info("bridge: shadow rules loaded id=%s by=%s", doc.id, doc.by)
        return True

    def relist(self, lists: ListSnapshot) -> None:
        """A new list snapshot: the shadow set reads the same lists as the live one."""
        if self.current is not None:
            self.current = self.current._replace(detector=self.current.detector.with_lists(lists))


Found = tuple[Transaction, Decision, Decision | None]  # event, live decision, shadow decision


class ShadowTee(Detector):
    """The live detector, evaluating the shadow set beside it on the very same card state.

    It is the live Detector for every caller (same decisions, same next state: the card's history
    stays the live set's, one state per card); the shadow's next state is dropped, so the shadow
    set sees the card history the live set keeps. Events either set alerted on are kept in `found`.
    A shadow failure is logged and counted, never a dead letter: the live verdict stands.
    """

    def __init__(self, live: Detector, shadow: ShadowSet) -> None:  # no super().__init__: a copy
        self.__dict__.update(live.__dict__)
        self.shadow, self.shadow_id = shadow.detector, shadow.id
        self.found: list[Found] = []
        self._failed = [0]  # shared with the copies with_scores makes, as `found` is

    @property
    def failed(self) -> int:
        """Events the shadow set failed on this batch (logged; the live verdict stood)."""
        return self._failed[0]

    def with_scores(self, scores: EventScores | None) -> Detector:
        """Both sets read the batch's model scores: a shadow rule on `model_score` is judged on the
        score the live one reads (and the native gate, which reads it too, agrees with it)."""
        other = copy(self)
        other.__dict__.update(super().with_scores(scores).__dict__)
        other.shadow = self.shadow.with_scores(scores)
        return other

    def evaluate(self, event: Transaction, state: CardState | None) -> tuple[Decision, CardState]:
        decision, nxt = super().evaluate(event, state)
        try:
            shadow: Decision | None = self.shadow.evaluate(event, state)[0]
        except Exception:  # the live path must not depend on the shadow set
            logger.exception("bridge: shadow rules failed card=%.40s", event.card_id)
            self._failed[0] += 1
            shadow = None
        if decision.is_alert or (shadow is not None and shadow.is_alert):
            self.found.append((event, decision, shadow))
        return decision, nxt


def tee_for(live: Detector, shadow: ShadowSet | None) -> Detector:
    """The detector a batch runs: the live one, or a ShadowTee when a shadow set is on."""
    return live if shadow is None else ShadowTee(live, shadow)
