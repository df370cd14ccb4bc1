"""Webhook endpoints: what one receives (subscriptions), how it is validated and stored in Redis."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from common.alerts import SEVERITIES
from common.keys import RedisKeys

FORMATS = ("json", "slack")  # signed JSON envelope; Slack incoming-webhook `{"text": ...}`
ALERT_RAISED = "alert.raised"  # every alert on the alerts topic
ALERT_RESOLVED = "alert.resolved"  # a resolution on the alert-events topic
EVENT_KINDS = (ALERT_RAISED, ALERT_RESOLVED)
MAX_ENDPOINTS = 64  # each endpoint has its own senders in the notifier
EDITABLE = ("name", "url", "format", "min_severity", "rules", "events", "enabled")
SECRET_PREFIX = "whsec_"  # noqa: S105 - a marker for secret scanners, not a secret


class EndpointError(ValueError):
    """An endpoint definition that cannot be used (bad URL, unknown format or event kind...)."""


@dataclass(frozen=True)
class Endpoint:
    """One webhook receiver and the events it subscribes to.

    An alert matches when its severity is at least `min_severity` and, if `rules` is not empty,
    one of those rules fired (both conditions); `events` picks the event kinds at all.
    """

    id: str
    name: str
    url: str
    secret: str
    format: str = "json"
    min_severity: str = "high"
    rules: tuple[str, ...] = ()
    events: tuple[str, ...] = (ALERT_RAISED,)
    enabled: bool = True
    source: str = "dashboard"  # or "file" (NOTIFIER_ENDPOINTS_FILE)
    created_by: str = ""
    created_ms: int = 0

    def public(self) -> dict[str, Any]:
        """What admins and logs may see: everything but the secret."""
        out = asdict(self)
        del out["secret"]
        out["rules"], out["events"] = list(self.rules), list(self.events)
        return out


def new_secret() -> str:
    """A fresh 256-bit signing secret (shown once to the admin who creates the endpoint)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise EndpointError(f"{what} must be a list of names")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def endpoint_from(data: Mapping[str, Any], **defaults: Any) -> Endpoint:
    """Validate one endpoint definition (a dict from Redis, a file or a form); EndpointError otherwise."""
    merged = {**defaults, **{k: v for k, v in data.items() if v is not None}}
    unknown = set(merged) - set(Endpoint.__dataclass_fields__)
    if unknown:
        raise EndpointError(f"unknown endpoint fields {sorted(unknown)}")
    ident, name = str(merged.get("id") or "").strip(), str(merged.get("name") or "").strip()
    if not ident or len(ident) > 80 or not ident.replace("_", "").replace("-", "").replace(":", "").isalnum():
        raise EndpointError("id: 1-80 letters, digits, '-', '_' or ':'")
    url = str(merged.get("url") or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise EndpointError(f"endpoint {ident}: url must be an http(s) URL")
    secret = str(merged.get("secret") or "")
    if len(secret) < 16:
        raise EndpointError(f"endpoint {ident}: secret must have at least 16 characters")
    fmt = str(merged.get("format") or "json")
    if fmt not in FORMATS:
        raise EndpointError(f"endpoint {ident}: format must be one of {FORMATS}")
    severity = str(merged.get("min_severity") or "high")
    if severity not in SEVERITIES:
        raise EndpointError(f"endpoint {ident}: min_severity must be one of {SEVERITIES}")
    events = _strings(merged.get("events", (ALERT_RAISED,)), "events") or (ALERT_RAISED,)
    if set(events) - set(EVENT_KINDS):
        raise EndpointError(f"endpoint {ident}: events must be among {EVENT_KINDS}")
    return Endpoint(
        id=ident,
        name=name[:80] or ident,
        url=url,
        secret=secret,
        format=fmt,
        min_severity=severity,
        rules=_strings(merged.get("rules"), "rules"),
        events=events,
        enabled=bool(merged.get("enabled", True)),
        source=str(merged.get("source") or "dashboard"),
        created_by=str(merged.get("created_by") or ""),
        created_ms=int(merged.get("created_ms") or 0),
    )


def _encode(endpoint: Endpoint) -> str:
    return json.dumps({**endpoint.public(), "secret": endpoint.secret}, separators=(",", ":"))


class EndpointStore:
    """The admin-managed endpoints (HASH `webhooks:endpoints`) and the notifier's file ones."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._keys = client, keys

    def all(self) -> list[Endpoint]:
        """Every dashboard endpoint, by name; a stored one that no longer validates is left out."""
        out = []
        for raw in self._r.hvals(self._keys.webhook_endpoints):
            try:
                out.append(endpoint_from(json.loads(raw)))
            except (ValueError, TypeError):
                continue
        return sorted(out, key=lambda e: (e.name, e.id))

    def create(self, data: Mapping[str, Any], user: str) -> Endpoint:
        """Add an endpoint with a fresh id and secret; return it (the only time its secret is shown)."""
        if self._r.hlen(self._keys.webhook_endpoints) >= MAX_ENDPOINTS:
            raise EndpointError(f"at most {MAX_ENDPOINTS} endpoints")
        fields = {
            k: v for k, v in data.items() if k in ("name", "url", "format", "min_severity", "rules", "events")
        }
        endpoint = endpoint_from(
            fields,
            id="wh_" + secrets.token_hex(6),
            secret=new_secret(),
            created_by=user,
            created_ms=int(time.time() * 1000),
        )
        self._r.hset(self._keys.webhook_endpoints, endpoint.id, _encode(endpoint))
        return endpoint

    def set_enabled(self, endpoint_id: str, enabled: bool) -> Endpoint | None:
        """Enable or disable one endpoint (None: no such endpoint)."""
        return self.update(endpoint_id, {"enabled": enabled})

    def update(
        self, endpoint_id: str, changes: Mapping[str, Any], *, rotate_secret: bool = False
    ) -> Endpoint | None:
        """Change an endpoint in place (id, creator and, unless rotated, secret kept); None: no such
        endpoint. Validated whole, as a new one is; deliveries already queued use the new URL."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise EndpointError(f"cannot change {sorted(unknown)}; editable: {list(EDITABLE)}")
        if "enabled" in changes and not isinstance(changes["enabled"], bool):
            raise EndpointError("enabled must be true or false")
        current = next((e for e in self.all() if e.id == endpoint_id), None)
        if current is None:
            return None
        stored = {**asdict(current), **changes, **({"secret": new_secret()} if rotate_secret else {})}
        changed = endpoint_from(stored)
        self._r.hset(self._keys.webhook_endpoints, endpoint_id, _encode(changed))
        return changed

    def delete(self, endpoint_id: str) -> bool:
        """Remove one endpoint; deliveries still queued for it are cancelled by the notifier."""
        return bool(self._r.hdel(self._keys.webhook_endpoints, endpoint_id))

    def publish_file_endpoints(self, endpoints: Iterable[Endpoint]) -> None:
        """Show a notifier's file endpoints to admins (without secrets), replacing the previous set."""
        mapping = {e.id: json.dumps(e.public(), separators=(",", ":")) for e in endpoints}
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self._keys.webhook_file_endpoints)
        if mapping:
            pipe.hset(self._keys.webhook_file_endpoints, mapping=mapping)  # type: ignore[arg-type]
        pipe.execute()

    def file_endpoints(self) -> list[dict[str, Any]]:
        """The file endpoints a notifier announced (public fields only)."""
        raws = self._r.hvals(self._keys.webhook_file_endpoints)
        return sorted((json.loads(r) for r in raws), key=lambda e: str(e.get("name")))
