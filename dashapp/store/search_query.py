"""Alert search queries: the filter fields, their parsing from request arguments, and row matching."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from common.alerts import OPEN_STATUSES, STATUSES
from dashapp.store.alert_rows import AlertRow, valid_alert_id
from dashapp.store.errors import StoreError

MAX_LIMIT = 1000
MAX_OFFSET = 100_000
MAX_TERM_CHARS = 128
OPEN = "open"  # pseudo status: new, acknowledged or assigned
TEXT_FIELDS = ("card", "merchant", "assignee", "rule")
QUERY_FIELDS = ("alert_id", *TEXT_FIELDS, "status", "since", "until", "order", "offset", "limit")


class InvalidQuery(StoreError, ValueError):
    """A search argument the store cannot use (the message names it and what is allowed)."""


@dataclass(frozen=True)
class AlertQuery:
    """Which alerts, in what order, which page. Empty text fields and None times do not filter."""

    alert_id: str = ""
    card: str = ""
    merchant: str = ""
    assignee: str = ""
    rule: str = ""
    status: str = ""  # one of STATUSES, OPEN, or "" (any)
    since_ms: int | None = None  # event time, inclusive
    until_ms: int | None = None  # event time, inclusive
    oldest_first: bool = False
    offset: int = 0
    limit: int = 100

    def page(self, offset: int, limit: int) -> AlertQuery:
        """The same filters, another page."""
        return dataclasses.replace(self, offset=offset, limit=limit)

    def filters(self) -> dict[str, str]:
        """The filter fields as request arguments (for links, e.g. the CSV export of a search)."""
        out = {f: getattr(self, f) for f in ("alert_id", *TEXT_FIELDS, "status") if getattr(self, f)}
        if self.since_ms is not None:
            out["since"] = str(self.since_ms)
        if self.until_ms is not None:
            out["until"] = str(self.until_ms)
        if self.oldest_first:
            out["order"] = "oldest"
        return out


def my_queue(user: str, limit: int = 200) -> AlertQuery:
    """Alerts assigned to ``user`` and still being worked on, oldest first."""
    return AlertQuery(assignee=user, status="assigned", oldest_first=True, limit=limit)


def parse_time(name: str, raw: str) -> int | None:
    """Epoch milliseconds, or ISO-8601 (a naive time is UTC); "" gives None."""
    raw = raw.strip()
    if not raw:
        return None
    if raw.isdigit() and len(raw) <= 15:
        return int(raw)
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidQuery(f"{name} must be epoch milliseconds or an ISO-8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _bounded_int(name: str, raw: str, default: int, low: int, high: int) -> int:
    raw = raw.strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 7 or not low <= int(raw) <= high:
        raise InvalidQuery(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def parse_query(args: Mapping[str, str], *, default_limit: int = 100) -> AlertQuery:
    """Build a query from request arguments; raise InvalidQuery naming the first bad one."""
    unknown = sorted(set(args) - set(QUERY_FIELDS))
    if unknown:
        raise InvalidQuery(f"unknown argument {unknown[0][:40]!r}; known: {', '.join(QUERY_FIELDS)}")
    terms = {f: str(args.get(f, "")).strip() for f in ("alert_id", *TEXT_FIELDS, "status")}
    for name, value in terms.items():
        if len(value) > MAX_TERM_CHARS:
            raise InvalidQuery(f"{name} is too long (max {MAX_TERM_CHARS} characters)")
    if terms["alert_id"] and not valid_alert_id(terms["alert_id"]):
        raise InvalidQuery("alert_id may hold only letters, digits, '.', '_' and '-'")
    if terms["status"] and terms["status"] not in (*STATUSES, OPEN):
        raise InvalidQuery(f"status must be one of {', '.join((*STATUSES, OPEN))}")
    order = str(args.get("order", "")).strip() or "newest"
    if order not in ("newest", "oldest"):
        raise InvalidQuery("order must be newest or oldest")
    since, until = parse_time("since", args.get("since", "")), parse_time("until", args.get("until", ""))
    if since is not None and until is not None and since > until:
        raise InvalidQuery("since must not be after until")
    return AlertQuery(
        **terms,
        since_ms=since,
        until_ms=until,
        oldest_first=order == "oldest",
        offset=_bounded_int("offset", args.get("offset", ""), 0, 0, MAX_OFFSET),
        limit=_bounded_int("limit", args.get("limit", ""), default_limit, 1, MAX_LIMIT),
    )


def matches(row: AlertRow, q: AlertQuery) -> bool:
    """True if the stored row satisfies every filter (guards against a stale index entry)."""
    statuses = OPEN_STATUSES if q.status == OPEN else (q.status,)
    return (
        (not q.alert_id or row.alert_id == q.alert_id)
        and (not q.card or row.card_id == q.card)
        and (not q.merchant or row.merchant_id == q.merchant)
        and (not q.assignee or row.assignee == q.assignee)
        and (not q.rule or q.rule in row.rules)
        and (not q.status or row.status in statuses)
        and (q.since_ms is None or row.event_ms >= q.since_ms)
        and (q.until_ms is None or row.event_ms <= q.until_ms)
    )
