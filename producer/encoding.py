"""Fast schema-v1 JSON encoding from precomputed fragments (same bytes as common.schema.encode_event)."""

from __future__ import annotations

import time

import msgspec

from common.schema import UNKNOWN_CITY
from producer.events import UNKNOWN
from producer.world import World

_q = msgspec.json.encode  # JSON-quote a string once, at build time


def _s(text: str) -> str:
    return _q(text).decode()


class EventEncoder:
    """Builds record values by string concatenation; fields follow the Transaction field order."""

    def __init__(self, world: World) -> None:
        self.card_frag = [
            f',"card_id":{_s(c.card_id)},"account_id":{_s(c.account_id)},"amount":' for c in world.cards
        ]
        self.card_keys = [c.card_id.encode() for c in world.cards]
        self.merchant_frag = [
            f',"merchant_id":{_s(m.merchant_id)},"merchant_category":{_s(m.category)},"city":'
            for m in world.merchants
        ]
        self.city_frag = [
            f'{_s(c.name)},"country":{_s(c.country)},"lat":{c.lat!r},"lon":{c.lon!r},"channel":"'
            for c in world.cities
        ]
        self.unknown_frag = f'{_s(UNKNOWN_CITY)},"country":null,"lat":null,"lon":null,"channel":"'
        self._sec = -1
        self._sec_text = ""

    def ts(self, ts_ms: int) -> str:
        """ISO-8601 UTC with milliseconds, formatted once per second (no datetime per event)."""
        sec, ms = divmod(ts_ms, 1000)
        if sec != self._sec:
            self._sec = sec
            self._sec_text = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
        return f"{self._sec_text}{ms:03d}Z"

    def encode(  # noqa: PLR0917 - positional on purpose: the per-event hot path
        self,
        txn_id: str,
        ts_ms: int,
        card: int,
        amount: float,
        currency: str,
        merchant: int,
        city: int,
        channel: str,
    ) -> bytes:
        """Serialise one transaction; `amount` must already be rounded to cents."""
        where = self.unknown_frag if city == UNKNOWN else self.city_frag[city]
        return (
            f'{{"txn_id":"{txn_id}","ts":"{self.ts(ts_ms)}"{self.card_frag[card]}{amount!r}'
            f',"currency":"{currency}"{self.merchant_frag[merchant]}{where}{channel}"}}'
        ).encode()
