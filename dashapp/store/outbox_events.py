"""The alert events each store change queues into the outbox stream, inside its own MULTI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import redis
from redis.typing import EncodableT

from common.alert_events import (
    ACTION_KINDS,
    DISPOSITIONS,
    LIST_CHANGED,
    OUTBOX_FIELD,
    RULES_PUBLISHED,
    RULES_RESTORED,
    AlertEvent,
    encode_event,
    make_event,
)
from common.keys import RedisKeys
from common.rulelang import to_document
from common.rules_doc import RulesDoc, encode_rules_doc
from dashapp.store.alert_rows import AlertRow

# Entries per list event: a list write of up to a million entries becomes several parts (all in
# one MULTI, so consecutive in the outbox), each well under Kafka's default 1 MB message limit
# (an entry is at most ~330 bytes of JSON: a 100-character value and a 200-character note).
LIST_PART_ENTRIES = 2_000


def ms_of(iso: str) -> int:
    """`2026-12-05T23:41:07.123Z` -> epoch ms (the stores' own time stamps)."""
    return int(datetime.fromisoformat(iso).timestamp() * 1000 + 0.5)


def xadd(keys: RedisKeys, event: AlertEvent) -> tuple[EncodableT, ...]:
    """The command that appends ``event`` to the outbox (no MAXLEN: the relay trims what it sent)."""
    return ("XADD", keys.events_outbox, "*", OUTBOX_FIELD, encode_event(event))


def workflow_event(old: AlertRow, new: AlertRow, action: str, note: str) -> AlertEvent:
    """An analyst's action on one alert: status, assignee and version before and after."""
    after: dict[str, Any] = {"status": new.status, "assignee": new.assignee, "version": new.version}
    if action in DISPOSITIONS:  # the transaction too: the relay turns a resolution into a label
        after.update(
            disposition=DISPOSITIONS[action], txn_id=new.txn_id, card_id=new.card_id, event_ms=new.event_ms
        )
    return make_event(
        ACTION_KINDS[action],
        at_ms=new.updated_at,
        actor=new.updated_by,
        subject=old.alert_id,
        before={"status": old.status, "assignee": old.assignee, "version": old.version},
        after=after,
        note=note,
    )


def rules_event(
    old: RulesDoc,
    new: RulesDoc,
    *,
    comment: str,
    restored_from: int | None,
    recorded_base: bool,
    changes: list[dict[str, Any]],
) -> AlertEvent:
    """A new rules version: the whole new document, what changed, and (when the version before was a
    seed no record kept) the previous document too, so a rebuild can record it as history."""
    before: dict[str, Any] = {"version": old.version}
    if not recorded_base:
        before["doc"] = msgspec.json.decode(encode_rules_doc(old))
    after: dict[str, Any] = {
        "version": new.version,
        "document": to_document(new.rules),
        "changes": changes,
    }
    if restored_from is not None:
        after["restored_from"] = restored_from
    return make_event(
        RULES_RESTORED if restored_from is not None else RULES_PUBLISHED,
        at_ms=ms_of(new.updated_at),
        actor=new.updated_by,
        subject=str(new.version),
        before=before,
        after=after,
        note=comment,
    )


def list_events(
    name: str,
    action: str,
    *,
    user: str,
    at: str,
    comment: str,
    rows: dict[str, bytes],
    removals: Sequence[str],
) -> list[AlertEvent]:
    """One list change as one or more `list.changed` parts: the entries set and the values removed."""
    entries = [[value, *_entry_fields(blob)] for value, blob in rows.items()]
    removed = list(removals)
    n = LIST_PART_ENTRIES
    parts = max(1, -(-len(entries) // n), -(-len(removed) // n))
    return [
        make_event(
            LIST_CHANGED,
            at_ms=ms_of(at),
            actor=user,
            subject=name,
            after={
                "action": action,
                "entries": entries[i * n : (i + 1) * n],
                "removed": removed[i * n : (i + 1) * n],
                "part": i,
                "parts": parts,
            },
            note=comment,
        )
        for i in range(parts)
    ]


def _entry_fields(blob: bytes) -> tuple[int | None, str]:
    stored = msgspec.json.decode(blob)
    return stored["expires_ms"], stored["note"]


def queue(pipe: redis.client.Pipeline, keys: RedisKeys, events: Sequence[AlertEvent]) -> None:
    """Queue the events' XADDs in ``pipe`` (already in MULTI)."""
    for event in events:
        pipe.execute_command(*xadd(keys, event))


def rules_changes(diff: Sequence[object]) -> list[dict[str, Any]]:
    """The audit's change list as plain data."""
    return [msgspec.to_builtins(c) for c in diff]
