"""`python -m backtest run|status|export|cancel|delete` against a real worker, Kafka and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.streams import generated, produce
from tests.test_backtest import Worker, plant, planted_draft, worker

pytestmark = pytest.mark.integration
__all__ = ["worker"]


def test_the_cli_queues_waits_reports_and_exports(
    worker: Worker, kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    records, planted = plant(generated(500, seed=6), every=50)
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2))
    produce(kafka_bootstrap, topic, records)
    s = worker.settings
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
        "KAFKA_TOPIC": s.kafka_topic,
        "REDIS_URL": s.redis_url,
        "REDIS_KEY_PREFIX": s.redis_key_prefix,
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "backtest", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    draft = tmp_path / "draft.yaml"
    draft.write_text(yaml.safe_dump(planted_draft()))
    done = cli("run", "--draft", str(draft), "--from", start, "--wait", "--by", "carol")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.splitlines()[0]
    planted_line = next(x for x in done.stdout.splitlines() if x.startswith("planted_merchant"))
    assert planted_line.split()[1:6] == ["0", str(len(planted)), str(len(planted)), "0", "0"]
    status = cli("status")
    assert (
        status.returncode == 0
        and run_id in status.stdout
        and "done" in status.stdout
        and "carol" in status.stdout
    )
    export = cli("export", run_id, "--format", "csv")
    assert export.returncode == 0 and f"planted_merchant,{len(planted)},0,0" in export.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [")
    refused = cli("run", "--draft", str(bad))
    assert refused.returncode == 2 and "draft refused" in refused.stderr
    no_model = cli("run", "--draft", str(draft), "--model", "no-such-version")
    assert no_model.returncode == 2 and "no model version 'no-such-version'" in no_model.stderr
    assert cli("cancel", "0000").returncode == 2
    assert cli("delete", run_id).returncode == 0
    assert cli("status", run_id).returncode == 2
