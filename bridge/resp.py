"""RESP2 encoding of write plans: commands as tuples, or pre-encoded by the native engine."""

from __future__ import annotations

import functools
from collections.abc import Sequence

Arg = str | bytes | int | float


class RawCommand(bytes):
    """One command already encoded in RESP (its array header included)."""


Command = tuple[Arg, ...] | RawCommand

# Verbs, fixed key names, fields and cities repeat every batch, so their encodings are memoised.
# Alert keys, alert ids and per-second keys never come back: an LRU lets them go. A memo filled up
# to 50,000 such strings instead held ~12 MB after half an hour (the soak's "growth", docs/memory.md).
PACKED_MAX = 2_048


@functools.lru_cache(maxsize=PACKED_MAX)
def _packed(arg: str) -> bytes:
    b = arg.encode()
    return b"$%d\r\n%s\r\n" % (len(b), b)


def pack(commands: Sequence[Command]) -> bytes:
    """Encode commands in RESP2 (about twice as fast as redis-py's generic packer for big plans)."""
    out: list[bytes] = []
    for cmd in commands:
        if type(cmd) is RawCommand:
            out.append(cmd)
            continue
        out.append(b"*%d\r\n" % len(cmd))
        _bulk(cmd, out)
    return b"".join(out)


def bulk_strings(args: Sequence[Arg]) -> bytes:
    """RESP bulk strings of `args` without the array header (to splice into a RawCommand)."""
    out: list[bytes] = []
    _bulk(args, out)
    return b"".join(out)


def raw_command(n_args: int, *parts: bytes) -> RawCommand:
    """A command of `n_args` arguments from already encoded bulk strings."""
    return RawCommand(b"*%d\r\n" % n_args + b"".join(parts))


def _bulk(args: Sequence[Arg], out: list[bytes]) -> None:
    append = out.append
    packed = _packed
    for arg in args:
        if type(arg) is bytes:
            append(b"$%d\r\n%s\r\n" % (len(arg), arg))
            continue
        if type(arg) is str:
            append(packed(arg))
            continue
        if type(arg) is float:
            b = repr(arg).encode()
        elif type(arg) is int:
            b = b"%d" % arg
        else:
            raise TypeError(f"cannot send {type(arg).__name__} to Redis")
        append(b"$%d\r\n%s\r\n" % (len(b), b))
