"""Tests of the native extension: skipped where it is not built, a failed run in CI (CI=true)."""

from __future__ import annotations

import os

import pytest

from bridge.native import available


def in_ci() -> bool:
    """CI services set CI=true (and .ci/run does, for any runner that does not)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def needs_native() -> pytest.MarkDecorator:
    """Mark for tests that need fraud_native.

    On a developer's machine without the extension they are skipped. In CI a missing extension
    fails the collection instead: a green CI run must have tested the engine the bridge runs.
    """
    if not available() and in_ci():
        pytest.fail(
            "CI=true but fraud_native is not built, so its tests cannot run (make setup builds native/)",
            pytrace=False,
        )
    return pytest.mark.skipif(not available(), reason="fraud_native is not built (make setup)")
