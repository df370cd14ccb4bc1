"""`python -m bench merge DIR` takes only a scratch run's own, successful, non-smoke sections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.merge import NotMergeable, merge, merge_dir

KNOWN = {"alerts_out", "webhooks", "bridge"}


def _run(smoke: bool = False, errors: dict[str, str] | None = None) -> dict[str, object]:
    meta = {
        "smoke": smoke,
        "errors": errors or {},
        "section_dates": {"alerts_out": "late", "webhooks": "late"},
        "reps_by_section": {"alerts_out": 3, "webhooks": 3},
        "section_seconds": {"alerts_out": 400.0, "webhooks": 300.0},
        "date": "late",
    }
    return {"alerts_out": {"new": 1}, "webhooks": {"new": 2}, "meta": meta}


def test_merge_replaces_only_the_runs_sections_and_their_meta() -> None:
    into: dict[str, Any] = {
        "bridge": {"old": 0},
        "alerts_out": {"old": 1},
        "meta": {"date": "early", "section_dates": {"bridge": "early", "alerts_out": "early"}},
    }
    assert merge(_run(errors={"webhooks": "boom"}), into, KNOWN) == ["alerts_out"]
    assert into["bridge"] == {"old": 0} and into["alerts_out"] == {"new": 1} and "webhooks" not in into
    meta = into["meta"]
    assert meta["date"] == "early"  # the run date of the whole file is not the scratch run's
    assert meta["section_dates"] == {"bridge": "early", "alerts_out": "late"}
    assert meta["reps_by_section"] == {"alerts_out": 3}


def test_smoke_runs_and_runs_without_a_success_are_refused() -> None:
    with pytest.raises(NotMergeable, match="smoke"):
        merge(_run(smoke=True), {}, KNOWN)
    with pytest.raises(NotMergeable, match="no section"):
        merge(_run(errors={"alerts_out": "x", "webhooks": "y"}), {}, KNOWN)


def test_merge_dir_rereads_the_target_and_writes_strict_json(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "results.json").write_text(json.dumps(_run()))
    target = tmp_path / "results.json"
    target.write_text(json.dumps({"bridge": {"old": 0}, "meta": {}}))
    assert merge_dir(tmp_path / "scratch", target, KNOWN) == ["alerts_out", "webhooks"]
    assert set(json.loads(target.read_text())) == {"bridge", "alerts_out", "webhooks", "meta"}
