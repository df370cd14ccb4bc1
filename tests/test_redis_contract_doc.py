"""docs/redis-contract.md names every key common/keys.py defines (a new key cannot go undocumented)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from common.keys import RedisKeys

DOC = Path(__file__).resolve().parents[1] / "docs" / "redis-contract.md"
PLACEHOLDER = re.compile(r"<[^>]*>")


def _key_shapes() -> dict[str, str]:
    """Attribute name -> the key's shape without prefix, each argument shown as `<>`."""
    keys = RedisKeys(prefix="")
    shapes: dict[str, str] = {}
    for name, member in inspect.getmembers(RedisKeys):
        if name.startswith("_") or name == "prefix":
            continue
        if isinstance(member, property):
            shapes[name] = getattr(keys, name)
        elif inspect.isfunction(member):
            n_args = len(inspect.signature(member).parameters) - 1
            shapes[name] = getattr(keys, name)(*(["<>"] * n_args))
    return shapes


def _documented() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    return {PLACEHOLDER.sub("<>", code) for code in re.findall(r"`([^`]+)`", text)}


def test_every_redis_key_is_in_the_contract_doc() -> None:
    shapes = _key_shapes()
    assert len(shapes) > 30  # the introspection found the keys
    documented = _documented()
    missing = sorted(f"{name}: {shape}" for name, shape in shapes.items() if shape not in documented)
    assert missing == [], f"add these keys to docs/redis-contract.md: {missing}"
