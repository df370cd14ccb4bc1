"""Snapshot every Redis key under a prefix and compare two runs' states, ignoring what may differ."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

# Keys whose values legitimately differ between two correct runs (wall clock, process identity,
# live health) or that are configuration rather than results.
_IGNORED = re.compile(
    rb"^(seq|last_write|lag|latency|latency:samples|bridges|bridge:.*|rules|rules:audit|dlq:samples"
    rb"|login:fail:.*|alerts:retention)$"  # the retention sweep's report: when each instance last swept
)
_WALL_CLOCK_FIELDS = {b"updated_at"}  # alert hashes: when the bridge first wrote them
_AMOUNT = b"amount"  # HINCRBYFLOAT sums: float rounding depends on batch boundaries
_STREAM_IDS = {b"txns": "txn_id", b"alerts": "alert_id"}


@dataclass
class Snapshot:
    """Normalised state: plain keys -> comparable values, streams -> {id: data} plus duplicate ids."""

    values: dict[bytes, Any] = field(default_factory=dict)
    streams: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    duplicates: dict[bytes, list[str]] = field(default_factory=dict)

    def totals(self) -> dict[bytes, Any]:
        return dict(self.values.get(b"totals", {}))


def _norm_hash(raw: Any, key: bytes) -> dict[bytes, Any]:
    out: dict[bytes, Any] = {}
    for f, v in raw.items():
        if f in _WALL_CLOCK_FIELDS and key.startswith(b"alert:"):
            continue
        out[f] = round(float(v), 2) if f == _AMOUNT else v
    return out


def _stream(client: redis.Redis, key: bytes, name: bytes) -> tuple[dict[str, Any], list[str]]:
    id_field = _STREAM_IDS.get(name, "")
    seen: dict[str, Any] = {}
    dupes: list[str] = []
    entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(key)  # type: ignore[assignment]
    for _entry_id, data in entries:
        body = {k.decode(): json.loads(v) if k == b"d" else v.decode() for k, v in data.items()}
        doc = body.get("d", body)
        ident = str(doc.get(id_field)) if isinstance(doc, dict) and id_field else json.dumps(body)
        if ident in seen:
            dupes.append(ident)
        seen[ident] = body
    return seen, dupes


def snapshot(client: redis.Redis, prefix: str) -> Snapshot:
    """Read every key under `prefix` (prefix stripped), normalised for comparison."""
    snap = Snapshot()
    pre = prefix.encode()
    for key in client.scan_iter(match=f"{prefix}*", count=2000):
        name = key[len(pre) :]
        if _IGNORED.match(name):
            continue
        kind = client.type(key)
        if kind == b"string":
            snap.values[name] = client.get(key)
        elif kind == b"hash":
            snap.values[name] = _norm_hash(client.hgetall(key), name)
        elif kind == b"set":
            snap.values[name] = sorted(client.smembers(key))
        elif kind == b"zset":
            snap.values[name] = client.zrange(key, 0, -1, withscores=True)
        elif kind == b"list":
            snap.values[name] = client.lrange(key, 0, -1)
        elif kind == b"stream":
            snap.streams[name], dupes = _stream(client, key, name)
            if dupes:
                snap.duplicates[name] = dupes
        # kind "none": expired between SCAN and TYPE; nothing to compare
    return snap


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def differences(ref: Snapshot, got: Snapshot, show: int = 12) -> list[str]:
    """Human-readable differences (empty when the states are equivalent)."""
    out: list[str] = []
    only_ref = sorted(set(ref.values) - set(got.values))
    only_got = sorted(set(got.values) - set(ref.values))
    if only_ref:
        out.append(f"{len(only_ref)} keys missing from the run, e.g. {only_ref[:show]}")
    if only_got:
        out.append(f"{len(only_got)} keys only in the run, e.g. {only_got[:show]}")
    changed = [k for k in sorted(set(ref.values) & set(got.values)) if ref.values[k] != got.values[k]]
    if changed:
        out.append(f"{len(changed)} keys differ:")
        out.extend(
            f"  {k!r}: reference={_short(ref.values[k])} run={_short(got.values[k])}" for k in changed[:show]
        )
    for name, dupes in got.duplicates.items():
        out.append(f"stream {name!r} holds {len(dupes)} duplicate entries, e.g. {dupes[:show]}")
    for name in sorted(set(ref.streams) | set(got.streams)):
        a, b = ref.streams.get(name, {}), got.streams.get(name, {})
        if bool(a) != bool(b):
            out.append(f"stream {name!r}: reference has {len(a)} entries, run has {len(b)}")
            continue
        bad = [i for i in set(a) & set(b) if a[i] != b[i]]
        if bad:
            first = bad[0]
            out.append(f"stream {name!r}: {len(bad)} entries differ, e.g. {first}: {a[first]} != {b[first]}")
    return out


def assert_same_state(ref: Snapshot, got: Snapshot, context: str = "") -> None:
    """Fail with a readable diff unless `got` equals the reference state."""
    diffs = differences(ref, got)
    assert not diffs, f"Redis state differs from the uninterrupted reference {context}:\n" + "\n".join(diffs)


def alert_ids(snap: Snapshot) -> Counter[bytes]:
    """Alert ids in the alert index (a ZSET cannot hold duplicates; counted for the report)."""
    return Counter(member for member, _ in snap.values.get(b"alerts:index", []))
