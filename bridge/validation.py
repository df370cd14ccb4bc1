"""Record validation: classify raw Kafka values as events or dead letters, never raising."""

from __future__ import annotations

import logging
from typing import NamedTuple

from common.schema import InvalidEvent, Transaction, decode_event

logger = logging.getLogger(__name__)

PREVIEW_CHARS = 200
# Reason classes (the `dlq:reasons` hash fields and the Prometheus label); stable, low-cardinality.
EMPTY, TOO_LARGE, MALFORMED, SCHEMA, DETECTOR, INTERNAL = (
    "empty",
    "too_large",
    "malformed_json",
    "schema",
    "detector_error",
    "internal_error",
)
REASON_CLASSES = (EMPTY, TOO_LARGE, MALFORMED, SCHEMA, DETECTOR, INTERNAL)


class Rejected(NamedTuple):
    """Why a record goes to the dead-letter topic: a class for counting and a one-line reason."""

    reason_class: str
    reason: str


def classify_reason(message: str) -> str:
    """Map an InvalidEvent message to its reason class."""
    if message.startswith("empty"):
        return EMPTY
    if message.startswith("malformed"):
        return MALFORMED
    if message.startswith("schema"):
        return SCHEMA
    return INTERNAL


def validate(raw: bytes | None, max_bytes: int) -> Transaction | Rejected:
    """Decode one record value; any problem (including unexpected errors) becomes a Rejected."""
    if raw is not None and len(raw) > max_bytes:
        return Rejected(TOO_LARGE, f"record value of {len(raw)} bytes exceeds {max_bytes}")
    try:
        return decode_event(raw)
    except InvalidEvent as exc:
        message = str(exc)
        return Rejected(classify_reason(message), message[:500])
    except UnicodeDecodeError as exc:  # msgspec raises this for bad UTF-8 inside a string field
        return Rejected(MALFORMED, f"malformed JSON: invalid UTF-8 at byte {exc.start}")
    except Exception as exc:  # a decoder bug must not crash or stall the bridge
        logger.exception("bridge: unexpected decode error")
        return Rejected(INTERNAL, f"unexpected {type(exc).__name__}: {exc}"[:500])


def preview(raw: bytes | None) -> str:
    """First PREVIEW_CHARS characters of a value for humans; never raises on bad UTF-8."""
    if raw is None:
        return ""
    return raw[: PREVIEW_CHARS * 4].decode("utf-8", errors="replace")[:PREVIEW_CHARS]
