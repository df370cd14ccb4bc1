"""docs/model.md's generated block: the handbook yardstick's figures beside the book's, from results.json."""

from __future__ import annotations

from typing import Any

from bench.report import fmt

CP = "card_precision_at_100"


def _row(name: str, m: dict[str, Any], extra: str = "") -> str:
    return f"| {name} | {m['auc_roc']:.3f} | {m['average_precision']:.3f} | {m[CP]:.3f} | {extra} |"


def _book(name: str, v: list[float]) -> str:
    return f"| {name} | {v[0]:.3f} | {v[1]:.3f} | {v[2]:.3f} | the book |"


def table(results: dict[str, Any]) -> str:
    """The block's Markdown (a hint to run the section when it has not run)."""
    h = results.get("handbook")
    if not h:
        return "(no handbook figures yet: `python -m bench run --only handbook`)"
    when = results.get("meta", {}).get("section_dates", {}).get("handbook", "?")
    book = h["book"]
    head = ["| model | AUC ROC | average precision | CP@100 | note |", "|---|---|---|---|---|"]
    ch3 = [_book("Logistic regression (book)", book["chapter3"]["logistic_regression"])]
    ch3.append(_book("Random forest (book)", book["chapter3"]["random_forest"]))
    for name, r in h["chapter3"].items():
        ch3.append(_row(name, r, f"fit {r['fit_seconds']:.1f} s, {r['transactions']:,} test transactions"))
    four = [_book("Best of the book, four weeks", book["best_four_weeks"])]
    for name, r in h["four_weeks"].items():
        four.append(_row(name, r["mean"], "mean of 4 test weeks"))
    v = h["variant"]
    changes = ", ".join(f"{key} {val:g}" for key, val in v["changes"].items())
    four.append(
        _row("lightgbm, variant simulator", v["lightgbm"]["mean"], f"{changes} (book: 220, 5, 28, 14)")
    )
    k = h.get("kafka")
    if k:
        note = (
            f"{k['events']:,} events through Kafka and back ({k['produce_eps']:,} ev/s out, "
            f"{k['read_eps']:,} ev/s in), "
            f"features byte-equal to the direct path: {'yes' if k['features_equal_direct'] else 'NO'}"
        )
        four.append(_row("lightgbm, read back from Kafka", k["lightgbm"]["mean"], note))
        c = k.get("commands")
        if c:
            took = [f"{w['train_seconds']:.0f} s + {w['score_seconds']:.0f} s" for w in c["weeks"]]
            note = (
                f"the system's commands: `model train` on the topics ({k['labels']:,} chargebacks "
                f"7 days late on a labels topic), `registry register`, `model score`; "
                f"train + score per week {', '.join(took)}"
            )
            four.append(_row("lightgbm, `python -m model` commands", c["mean"], note))
    weekly = [
        "| test week (training from day) | AUC ROC | average precision | CP@100 | fit |",
        "|---|---|---|---|---|",
    ]
    for w in h["four_weeks"]["lightgbm"]["weeks"]:
        weekly.append(
            f"| {w['train_start_day']} | {w['auc_roc']:.3f} | {w['average_precision']:.3f} | {w[CP]:.3f} "
            f"| {w['fit_seconds']:.1f} s |"
        )
    t = h["train_1m"]
    return "\n".join(
        [
            f"Handbook world: {h['transactions']:,} transactions, fraud rate {100 * h['fraud_rate']:.2f} %, "
            f"frauds by scenario {h['frauds_by_scenario']} ({when}, 2 shared cores).",
            "",
            "Chapter 3 week (train 2018-07-25, 7 days; delay 7 days; test 7 days):",
            "",
            *head,
            *ch3,
            "",
            "Four prequential test weeks, and a variant of the simulator:",
            "",
            *head,
            *four,
            "",
            "LightGBM per test week:",
            "",
            *weekly,
            "",
            f"Training on the first {t['events']:,} labelled events ({t['frauds']:,} frauds): features "
            f"{fmt(t['features_seconds'], 1, ' s')}, LightGBM fit {fmt(t['lightgbm_fit_seconds'], 1, ' s')}, "
            f"together {fmt(t['lightgbm_total_seconds'], 1, ' s')} (target ≤ 120 s); scikit-learn's "
            f"histogram GBM fit {fmt(t['sklearn_hist_gbm_fit_seconds'], 1, ' s')}.",
        ]
    )
