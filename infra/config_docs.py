"""Generate the configuration table in docs/configuration.md from the services' settings dataclasses.

`python -m infra.config_docs` rewrites the table between its markers; `--check` exits 1 when the
file is stale (tests/test_docs.py runs the same comparison), so a new setting cannot go undocumented.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, Field, fields
from pathlib import Path

from backtest.settings import BacktestSettings
from bridge.config import BridgeSettings
from common.settings import KafkaSettings, RedisSettings
from dashapp.settings import DashSettings
from model.settings import ModelSettings, RegistrySettings, RetrainSettings
from notifier.config import NotifierSettings
from outbox.settings import OutboxSettings
from producer.config import ProducerSettings

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
# Each service and the settings class its main() builds; shared bases are listed once, with users.
SERVICES: tuple[tuple[str, type], ...] = (
    ("bridge", BridgeSettings),
    ("dashapp", DashSettings),
    ("producer", ProducerSettings),
    ("notifier", NotifierSettings),
    ("backtest", BacktestSettings),
    ("outbox", OutboxSettings),
    ("model", ModelSettings),
    ("model registry", RegistrySettings),
    ("model retrain", RetrainSettings),
)
SHARED: tuple[type, ...] = (KafkaSettings, RedisSettings)


class UndocumentedSetting(ValueError):
    """A settings field without the `doc` text the table needs (declare it with common.settings.setting)."""


def _variable(f: Field[object]) -> str:
    return str(f.metadata.get("env", f.name.upper()))


def _default(f: Field[object]) -> str:
    if "shown" in f.metadata:
        return str(f.metadata["shown"])
    value = f.default
    if value is MISSING:
        return "required"
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    if value == "":
        return "none"
    return f"`{value}`"


def _row(f: Field[object], used_by: str, owner: str) -> str:
    if "doc" not in f.metadata:
        raise UndocumentedSetting(f"{owner}.{f.name} has no doc text")
    return f"| `{_variable(f)}` | {_default(f)} | {used_by} | {f.metadata['doc']} |"


def table() -> str:
    """Return the markdown table (with its markers) for every setting of every service."""
    lines = [START, "| variable | default | used by | meaning |", "| --- | --- | --- | --- |"]
    for base in SHARED:
        users = ", ".join(name for name, cls in SERVICES if issubclass(cls, base))
        lines += [_row(f, users, base.__name__) for f in fields(base)]
    # A variable several services read with the same default and meaning (model retrain inherits
    # model's) is one row naming them all; a different meaning per service keeps its own row.
    rows: dict[tuple[str, str, object], tuple[Field[object], list[str], str]] = {}
    for name, cls in SERVICES:
        inherited = {f.name for base in SHARED if issubclass(cls, base) for f in fields(base)}
        for f in fields(cls):
            if f.name not in inherited:
                same = (_variable(f), _default(f), f.metadata.get("doc"))
                rows.setdefault(same, (f, [], cls.__name__))[1].append(name)
    lines += [_row(f, ", ".join(users), owner) for f, users, owner in rows.values()]
    lines.append(END)
    return "\n".join(lines)


def render(text: str) -> str:
    """Return `text` with the part between the markers replaced by the current table."""
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"{DOC.name} lacks the markers {START} ... {END}")
    return head + table() + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    current = DOC.read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            sys.stderr.write(f"{DOC} is stale: run python -m infra.config_docs\n")
            return 1
        return 0
    DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
