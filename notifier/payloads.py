"""Request bodies (signed JSON envelope or Slack text) and the HMAC-SHA256 signature (pure)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from common.webhooks import Endpoint
from notifier.events import Event

SIGNATURE_HEADER = "X-Fraud-Signature"  # t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
EVENT_ID_HEADER = "X-Fraud-Event-Id"  # receivers dedupe on it (delivery is at least once)
EVENT_KIND_HEADER = "X-Fraud-Event"
TOLERANCE_S = 300  # a receiver refuses signatures older than this (replays)


def json_body(event: Event) -> bytes:
    """The JSON envelope: {id, type, created, data}; `data` is the alert (or resolution) itself."""
    envelope = {
        "id": event.id,
        "type": event.kind,
        "created": datetime.fromtimestamp(event.at_ms / 1000, UTC).isoformat(timespec="milliseconds"),
        "data": event.data,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def slack_text(event: Event) -> str:
    """One line for a chat channel (Slack incoming-webhook `text`, mrkdwn)."""
    d = event.data
    if event.kind == "alert.raised":
        reasons = "; ".join(str(r.get("text", r.get("rule"))) for r in d.get("reasons", []))
        return (
            f":rotating_light: *{event.severity.upper()}* alert `{event.id}` score {d.get('score', 0):.2f} "
            f"card `{d.get('card_id')}` {d.get('amount')} {d.get('currency')} at {d.get('merchant_id')} "
            f"({d.get('city')}): {reasons}"
        )
    after = d.get("after") or {}
    note = f": {d['note']}" if d.get("note") else ""
    return (
        f":white_check_mark: alert `{d.get('subject')}` resolved as {after.get('disposition', '?')} "
        f"by {d.get('actor', '?')}{note}"
    )


def body_for(endpoint: Endpoint, event: Event) -> bytes:
    """The exact bytes POSTed to `endpoint` (what the signature covers)."""
    if endpoint.format == "slack":
        return json.dumps({"text": slack_text(event)}, ensure_ascii=False).encode()
    return json_body(event)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (Stripe-style `t=...,v1=...`)."""
    mac = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does: recompute the HMAC over `<t>.<body>`, compare in constant time, check age."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def headers_for(endpoint: Endpoint, event: Event, body: bytes, now: float) -> dict[str, str]:
    """Request headers: content type, event id and kind, and the signature (fresh per attempt)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "fraud-notifier/1",
        EVENT_ID_HEADER: event.id,
        EVENT_KIND_HEADER: event.kind,
        SIGNATURE_HEADER: sign(endpoint.secret, int(now), body),
    }


def backoff_s(attempt: int, base_s: float, cap_s: float, rand: float) -> float:
    """Delay before retry `attempt` (1 = first retry): capped exponential with equal jitter.

    Half the capped delay is fixed so a down receiver is not hammered, half is random (rand in
    [0, 1)) so many deliveries retrying at once spread out.
    """
    full = min(cap_s, base_s * 2 ** (attempt - 1))
    return full / 2 + full / 2 * rand
