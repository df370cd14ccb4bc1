"""Generated documentation blocks: the figures the README and docs/performance.md quote, from results.json.

Prose never retypes a measured figure: every number a reader sees about speed, latency, memory or
quality is spliced between markers from `bench/results.json` (by `make bench`, or by `python -m bench
docs` after editing the generator), and `tests/test_docs.py` fails when a committed block differs from
what this module makes of the committed results.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench import sec_alerts_out, sec_backtest, sec_rules, sec_serving, sec_shadow, sec_webhooks
from bench.handbook import report as handbook_report
from bench.report import fmt, markdown

TABLES = ("<!-- bench:start -->", "<!-- bench:end -->")
HEADLINE = ("<!-- headline:start -->", "<!-- headline:end -->")


def _dated(results: dict[str, Any], section: str) -> str:
    meta = results.get("meta", {})
    when = meta.get("section_dates", {}).get(section) or meta.get("date", "?")
    return f"{when}, {meta.get('cpus', '?')} shared cores"


def headline(results: dict[str, Any]) -> str:
    """A few lines of headline figures for the README, each with its date and machine."""
    lines: list[str] = []
    b = results.get("bridge")
    if b:
        lines.append(
            f"- Bridge ÷ raw kafka-python consumption: **{fmt(b['ratio_bridge_vs_raw'], 2)}** "
            f"({fmt(b['bridge_1_eps'], 0)} ev/s); 2 instances ÷ 1 on the same cores: "
            f"{fmt(b['ratio_2_vs_1'], 2)} ({_dated(results, 'bridge')})."
        )
    lat = results.get("latency", {}).get("rates", {}).get("1000")
    if lat:
        lines.append(
            f"- End-to-end latency at 1,000 ev/s: p50 {fmt(lat['p50'], 0)} ms, p99 {fmt(lat['p99'], 0)} ms"
            + _with_custom(results["latency"].get("custom_rules"))
            + f" ({_dated(results, 'latency')})."
        )
    dash = results.get("dash", {}).get("levels", {})
    top = max(dash, key=int) if dash else None
    if top is not None:
        level = dash[top]
        lines.append(
            f"- {int(top):,} analysts polling at 1 Hz: p95 {fmt(level.get('latency_p95_ms'), 0)} ms, "
            f"{fmt(level['server_cpu_ms_per_poll'], 2)} ms of server CPU per poll "
            f"({_dated(results, 'dash')})."
        )
    q = results.get("quality")
    if q:
        lines.append(
            f"- Event precision on the default mix: {fmt(q['event_precision'], 3)} "
            f"({_dated(results, 'quality')})."
        )
    m = results.get("memory")
    if m:
        lines.append(
            f"- Bridge memory after {m['events']:,} events over {m['cards']:,} cards: "
            f"{fmt(m['bridge_settled_rss_mb'], 0)} MB ({_dated(results, 'memory')})."
        )
    return "\n".join(lines)


def registry(results: dict[str, Any]) -> str:
    """docs/rules-api.md's figures: change propagation to a running bridge and the cost of big lists."""
    r = results.get("registry")
    if not r:
        return "(no registry figures yet: `python -m bench run --only registry`)"
    names = {
        "rule_change_ms": "rule set published",
        "small_list_change_ms": "1 entry added to a 10-entry list",
        "big_list_change_ms": f"1 entry added to a {r['list_entries']:,}-entry list",
        "model_champion_ms": "champion model promoted (loaded and checked by the bridge)",
    }
    rows = ["| change | p50 | p99 | max |", "|---|---|---|---|"]
    for key, label in names.items():
        p = r["propagation"].get(key)
        if p is None:  # measured before the section timed it
            continue
        rows.append(f"| {label} | {p['p50']:,.0f} ms | {p['p99']:,.0f} ms | {p['max']:,.0f} ms |")
    return "\n".join(
        [
            f"Propagation over {r['changes']} changes of each kind under a {r['stream_eps']:,} ev/s stream, "
            f"then CPU per event with {r['list_entries']:,}-entry deny and suppression lists against empty "
            f"ones ({_dated(results, 'registry')}, engine: {r['engine']}):",
            "",
            *rows,
            "",
            f"- CPU per event, lists full ÷ empty: {fmt(r['cpu_ratio_full_vs_empty'], 2)} "
            f"({fmt(r['bridge_lists_full_cpu_us_per_event'], 1)} vs "
            f"{fmt(r['bridge_lists_empty_cpu_us_per_event'], 1)} µs).",
            f"- Events/s, lists full ÷ empty: {fmt(r['ratio_full_vs_empty'], 2)} (wall clock, noisier).",
        ]
    )


def splice(path: Path, markers: tuple[str, str], text: str) -> bool:
    """Replace the text between `markers` in `path`; False when the file or the markers are absent."""
    if not path.exists():
        return False
    start, end = markers
    body = path.read_text()
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(body):
        return False
    path.write_text(pattern.sub(lambda _: f"{start}\n{text.strip()}\n{end}", body, count=1))
    return True


def block(path: Path, markers: tuple[str, str]) -> str | None:
    """The text between `markers` in `path` (stripped), or None when absent."""
    start, end = markers
    found = re.search(re.escape(start) + r"(.*?)" + re.escape(end), path.read_text(), re.DOTALL)
    return found.group(1).strip() if found else None


def write_docs(results: dict[str, Any], repo: Path) -> list[Path]:
    """Splice the tables into docs/performance.md and rules-api.md, the headline into README.md; the
    files changed."""
    done = []
    if splice(repo / "docs" / "performance.md", TABLES, markdown(results)):
        done.append(repo / "docs" / "performance.md")
    if splice(repo / "README.md", HEADLINE, headline(results)):
        done.append(repo / "README.md")
    if splice(repo / "docs" / "rules-api.md", TABLES, registry(results)):
        done.append(repo / "docs" / "rules-api.md")
    if splice(repo / "docs" / "native-rules.md", TABLES, sec_rules.table(results)):
        done.append(repo / "docs" / "native-rules.md")
    if splice(repo / "docs" / "shadow.md", TABLES, sec_shadow.table(results)):
        done.append(repo / "docs" / "shadow.md")
    model_tables = handbook_report.table(results) + "\n\n" + sec_serving.table(results)
    if splice(repo / "docs" / "model.md", TABLES, model_tables):
        done.append(repo / "docs" / "model.md")
    if splice(repo / "docs" / "webhooks.md", TABLES, sec_webhooks.table(results)):
        done.append(repo / "docs" / "webhooks.md")
    if splice(repo / "docs" / "reliability.md", TABLES, sec_alerts_out.table(results)):
        done.append(repo / "docs" / "reliability.md")
    if splice(repo / "docs" / "backtest.md", TABLES, sec_backtest.table(results)):
        done.append(repo / "docs" / "backtest.md")
    return done


def _with_custom(custom: dict[str, Any] | None) -> str:
    """The same rate with custom rules added, when the run measured it."""
    if not custom:
        return ""
    n = len(custom["rules"])
    return f"; with {n} custom rules p50 {fmt(custom['p50'], 0)} ms, p99 {fmt(custom['p99'], 0)} ms"
