"""`python -m bench merge DIR`: take the sections of a scratch run (`run --out DIR`) into bench/results.json.

A run into a scratch directory cannot clobber sections other people write to the shared
bench/results.json while it measures; merging afterwards replaces only its own sections (and their
date, repetitions and duration in `meta`), then re-splices the generated doc blocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report

PER_SECTION_META = ("section_dates", "reps_by_section", "section_seconds")


class NotMergeable(ValueError):
    """A scratch run that must not replace committed figures (a smoke run, or nothing that succeeded)."""


def merge(fresh: dict[str, Any], into: dict[str, Any], known: set[str]) -> list[str]:
    """Copy fresh's successful sections and their per-section meta into `into`; the names copied."""
    meta = fresh.get("meta", {})
    if meta.get("smoke"):
        raise NotMergeable("a smoke run's figures are not measurements")
    errors = meta.get("errors", {})
    names = [n for n in meta.get("section_dates", {}) if n in fresh and n in known and n not in errors]
    if not names:
        raise NotMergeable("no section of that run succeeded")
    target = into.setdefault("meta", {})
    for name in names:
        into[name] = fresh[name]
        for key in PER_SECTION_META:
            if name in meta.get(key, {}):
                target.setdefault(key, {})[name] = meta[key][name]
    return names


def merge_dir(src: Path, results_path: Path, known: set[str]) -> list[str]:
    """Merge src/results.json into results_path (re-read now: others may have written it)."""
    fresh = json.loads((src / "results.json").read_text())
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    names = merge(fresh, results, known)
    report.write_json(results, results_path)
    return names
