"""The benchmark harness works end to end (`make bench-smoke`); speed is never asserted here."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.docs import TABLES, splice
from bench.report import fmt, markdown
from bench.stats import percentile, ratios, summarize, window_rate

REPO_ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("bridge", "quality", "producer", "latency", "dash", "memory")
REQUIRED = [
    ("bridge", "raw_consumer_eps"),
    ("bridge", "bridge_1_eps"),
    ("bridge", "bridge_2_eps"),
    ("bridge", "naive_eps"),
    ("bridge", "ratio_bridge_vs_raw"),
    ("bridge", "ratio_2_vs_1"),
    ("quality", "event_precision"),
    ("quality", "ratio_ml_on_vs_off"),
    ("producer", "ratio_library_vs_raw"),
    ("latency", "banner_ms", "p50"),
    ("latency", "custom_rules", "p99"),
    ("memory", "bridge_rss_mb"),
    ("memory", "bridge_settled_rss_mb"),
    ("memory", "redis_prefix_mb"),
]


def _get(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _numbers(obj: Any) -> list[float]:
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return []
    if isinstance(obj, int | float):
        return [float(obj)]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    return [x for v in obj for x in _numbers(v)]


def test_summary_and_percentiles() -> None:
    assert summarize([3.0, 1.0, 2.0]) | {"values": []} == {
        "min": 1.0,
        "median": 2.0,
        "max": 3.0,
        "n": 3,
        "values": [],
    }
    assert summarize([])["n"] == 0
    assert percentile([1, 2, 3, 4, 5], 50) == 3.0
    assert percentile([0, 10], 95) == pytest.approx(9.5)
    assert ratios([2.0, 3.0], [1.0, 0.0])[0] == 2.0
    assert math.isnan(ratios([2.0, 3.0], [1.0, 0.0])[1])


def test_window_rate_skips_the_start() -> None:
    # 10 s of start-up at a slow rate, then 1,000 ev/s: the window starts at 20 % of the work
    samples = [(float(t), 10 * t) for t in range(11)] + [(10.0 + t, 100 + 1000 * t) for t in range(1, 11)]
    assert window_rate(samples, 10_100, 0.2) == pytest.approx(1000.0)


def test_fmt_and_doc_splice(tmp_path: Path) -> None:
    assert fmt(summarize([1.0, 2.0, 4.0]), 1) == "2.0 (1.0\u20134.0)"
    assert fmt(summarize([]), 1) == "n/a"
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- bench:start -->\nold\n<!-- bench:end -->\ntail\n")
    assert splice(readme, TABLES, "| new |")
    assert readme.read_text() == "# x\n<!-- bench:start -->\n| new |\n<!-- bench:end -->\ntail\n"
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    assert not splice(plain, TABLES, "| new |")
    assert plain.read_text() == "no markers\n"


def test_markdown_without_sections() -> None:
    meta = {"date": "d", "cpus": 2, "load_start": [1.0], "load_end": [2.0], "reps": 3, "smoke": False}
    assert "Measured by `make bench`" in markdown({"meta": meta})


def test_markdown_names_sections_kept_from_an_earlier_run() -> None:
    meta = {"date": "late", "cpus": 2, "load_start": [1.0], "load_end": [2.0], "reps": 3, "smoke": False}
    meta["section_dates"] = {"dash": "late", "bridge": "early", "memory": "early"}
    assert "Sections from an earlier run of `make bench`: bridge, memory (early)." in markdown({"meta": meta})
    meta["section_dates"] = {"dash": "late"}
    assert "earlier run" not in markdown({"meta": meta})


@pytest.mark.integration
@pytest.mark.timeout(720)  # its own subprocess timeout (600 s) ends a hang; pytest's 300 s is too short
def test_bench_smoke_run(tmp_path: Path, kafka_bootstrap: str, redis_url: str) -> None:
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, REDIS_URL=redis_url)
    # its own session: whatever ends the run (a timeout, pytest's), the bridges and producers it
    # started go with it, not on into the next tests' Kafka and CPU
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--smoke", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        # every section at smoke size (~200 s on a quiet machine); a hang still ends
        _, stderr = bench.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(bench.pid, signal.SIGKILL)
        bench.wait()
    assert bench.returncode == 0, stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"]["errors"] == {}
    for section in SECTIONS:
        assert section in results, section
    for path in REQUIRED:
        summary = _get(results, path)
        assert summary["n"] >= 1, path
        assert math.isfinite(summary["median"]), path
    for rate in results["latency"]["rates"].values():
        assert math.isfinite(rate["p95"]["median"])
    for level in results["dash"]["levels"].values():
        assert level["errors"]["median"] == 0
        assert math.isfinite(level["latency_p95_ms"]["median"])
    assert all(math.isfinite(x) for x in _numbers(results))
    for png in ("latency_cdf.png", "throughput.png", "analysts_p95.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    table = (tmp_path / "table-smoke.md").read_text()  # --out DIR: every output in DIR
    assert "| Measure | Result | Notes |" in table


def test_a_full_run_into_a_scratch_dir_leaves_the_repo_alone(tmp_path: Path) -> None:
    """`python -m bench run --out DIR`: results, table and plots in DIR; no doc block re-spliced."""
    from bench.__main__ import write_outputs

    tracked = [
        REPO_ROOT / "README.md",
        REPO_ROOT / "docs" / "performance.md",
        REPO_ROOT / "docs" / "webhooks.md",
    ]
    before = {p: p.read_bytes() for p in tracked}
    meta = {"date": "scratch", "cpus": 2, "load_start": [1.0], "load_end": [2.0], "reps": 1, "smoke": False}
    write_outputs({"meta": meta}, tmp_path, smoke=False, scratch=True)
    assert json.loads((tmp_path / "results.json").read_text())["meta"]["date"] == "scratch"
    assert "| Measure | Result | Notes |" in (tmp_path / "table.md").read_text()
    assert {p: p.read_bytes() for p in tracked} == before


def test_an_only_run_keeps_sections_another_run_wrote_meanwhile(tmp_path: Path) -> None:
    """`--only X` re-reads results.json when it writes, not when it starts: a section another run
    wrote meanwhile (people share one checkout) survives, and X's date and reps are recorded."""
    from bench.__main__ import _finish
    from bench.config import sizes_for

    meta = {"section_dates": {"older": "early"}, "section_seconds": {"older": 1.0}, "reps_by_section": {}}
    (tmp_path / "results.json").write_text(json.dumps({"older": {"x": 1}, "other": {"y": 2}, "meta": meta}))
    fresh = {"webhooks": {"z": 3}}
    _finish(
        fresh,
        sizes_for(False, 3),
        False,
        [1.0],
        {"webhooks": 2.0},
        {},
        tmp_path,
        ["webhooks"],
        scratch=True,
        only=["webhooks"],
    )
    written = json.loads((tmp_path / "results.json").read_text())
    assert (written["older"], written["other"], written["webhooks"]) == ({"x": 1}, {"y": 2}, {"z": 3})
    assert written["meta"]["section_dates"]["older"] == "early"
    assert written["meta"]["section_seconds"] == {"older": 1.0, "webhooks": 2.0}
    assert written["meta"]["reps_by_section"] == {"webhooks": 3}
