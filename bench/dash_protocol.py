"""Pure helpers that speak Dash's callback protocol as the browser does (no I/O)."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
UNCHANGED = b'{"multi":true,"response":{}}'
_ENVELOPE = b'{"multi":true,"response":{'
_DECODER = json.JSONDecoder()


def csrf_from_login_page(html: str) -> str:
    """The hidden form token of the login page."""
    match = CSRF_RE.search(html)
    if not match:
        raise ValueError("bench: no csrf_token in the login page")
    return match.group(1)


def layout_props(layout: Any) -> dict[str, dict[str, Any]]:
    """Map component id -> props for every component with a string id in a /_dash-layout tree."""
    found: dict[str, dict[str, Any]] = {}
    stack = [layout]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict):
                if isinstance(props.get("id"), str):
                    found[props["id"]] = props
                stack.extend(v for v in props.values() if isinstance(v, list | dict))
    return found


def _split(dep: str) -> tuple[str, str]:
    elem, prop = dep.rsplit(".", 1)
    return elem, prop


def _outputs(output: str) -> list[tuple[str, str]]:
    """Parse `a.b` or the multi form `..a.b...c.d..` into (id, prop) pairs."""
    if output.startswith("..") and output.endswith(".."):
        return [_split(part) for part in output[2:-2].split("...")]
    return [_split(output)]


def interval_callbacks(deps: list[dict[str, Any]], interval_id: str | None = None) -> list[dict[str, Any]]:
    """Server callbacks with an Interval's n_intervals as input (one POST each per tick)."""
    out = []
    for cb in deps:
        if cb.get("clientside_function"):
            continue
        for inp in cb.get("inputs", []):
            if inp.get("property") == "n_intervals" and interval_id in (None, inp.get("id")):
                out.append(cb)
                break
    return out


class Callback:
    """One Interval-driven callback of one analyst: builds bodies, feeds its own outputs back."""

    def __init__(self, dep: dict[str, Any], props: dict[str, dict[str, Any]]) -> None:
        self.output = dep["output"]
        self.outputs = [{"id": i, "property": p} for i, p in _outputs(self.output)]
        self.inputs = [dict(x) for x in dep.get("inputs", [])]
        self.state = [dict(x) for x in dep.get("state", [])]
        self.values: dict[tuple[str, str], Any] = {}
        for item in self.inputs + self.state:
            key = (item["id"], item["property"])
            self.values[key] = props.get(item["id"], {}).get(item["property"])
        self.trigger = next(
            f"{x['id']}.{x['property']}" for x in self.inputs if x["property"] == "n_intervals"
        )

    def body(self, n_intervals: int) -> bytes:
        """The JSON POST body of one tick, with the current input and state values."""
        key = tuple(self.trigger.rsplit(".", 1))
        self.values[key] = n_intervals  # type: ignore[index]

        def fill(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{**x, "value": self.values.get((x["id"], x["property"]))} for x in items]

        outputs: Any = (
            self.outputs if len(self.outputs) > 1 or self.output.startswith("..") else self.outputs[0]
        )
        return orjson.dumps(
            {
                "output": self.output,
                "outputs": outputs,
                "inputs": fill(self.inputs),
                "changedPropIds": [self.trigger],
                "state": fill(self.state),
            }
        )

    def apply(self, response: Any) -> None:
        """Feed returned values into our own inputs/state (cursors in a dcc.Store, as the browser does)."""
        if not isinstance(response, dict):
            return
        for elem, props in (response.get("response") or {}).items():
            if not isinstance(props, dict):
                continue
            for prop, value in props.items():
                if (elem, prop) in self.values and not _is_patch(value):
                    self.values[(elem, prop)] = value

    def apply_raw(self, body: bytes) -> bool:
        """Feed back our own inputs/state from a raw answer without parsing all of it; True if changed.

        A load generator cannot afford to parse every 20 KB answer the way a browser does; it checks
        the envelope and decodes only the values it feeds back (a key pattern with bare quotes cannot
        occur inside a JSON string, where quotes are escaped). Raises ValueError if malformed.
        """
        if body == UNCHANGED:
            return False
        if not (body.startswith(_ENVELOPE) and body.endswith(b"}}")):
            raise ValueError("bench: not a Dash callback answer")
        for elem, prop in self.values:
            pattern = f'"{elem}":{{"{prop}":'.encode()
            at = body.rfind(pattern)
            if at >= 0:
                value, _ = _DECODER.raw_decode(body[at + len(pattern) :].decode())
                if not _is_patch(value):
                    self.values[(elem, prop)] = value
        return True


def _is_patch(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__dash_patch_update") is not None
