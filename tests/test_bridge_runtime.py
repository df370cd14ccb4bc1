"""HeapTrimmer: when the bridge hands freed heap back to the OS (pure timing logic, no I/O)."""

from __future__ import annotations

from bridge.runtime import HeapTrimmer


def test_big_batch_trims_once_the_interval_has_passed() -> None:
    trimmer = HeapTrimmer(interval_s=0.0, steady_interval_s=3600.0)
    trimmer.trim()
    assert trimmer.trims == 0  # nothing landed yet and the steady interval is far off
    trimmer.batch_done()
    trimmer.trim()
    assert trimmer.trims == 1
    trimmer.trim()
    assert trimmer.trims == 1  # the batch's garbage was handed back already


def test_big_batches_wait_for_the_interval() -> None:
    trimmer = HeapTrimmer(interval_s=3600.0, steady_interval_s=3600.0)
    trimmer.batch_done()
    trimmer.trim()
    assert trimmer.trims == 0


def test_steady_trim_without_big_batches() -> None:
    trimmer = HeapTrimmer(interval_s=3600.0, steady_interval_s=0.0)
    trimmer.trim()
    trimmer.trim()
    assert trimmer.trims == 2
