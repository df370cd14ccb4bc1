"""The data layer's exceptions: one-line classes the UI and API map to messages and HTTP codes."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """Base class of every error the dashboard store raises on purpose."""


class AlertNotFound(StoreError, LookupError):
    """No alert with this id (or its record is unreadable)."""

    def __init__(self, alert_id: str) -> None:
        super().__init__(f"alert {alert_id!r} not found")
        self.alert_id = alert_id


class InvalidAction(StoreError, ValueError):
    """Unknown action, bad argument (e.g. note too long) or a transition the status forbids."""


class VersionConflict(StoreError):
    """Someone else changed the object since the caller read it; `current` is the fresh state."""

    def __init__(self, message: str, current: Any, changed_by: str, current_version: int) -> None:
        super().__init__(message)
        self.current = current
        self.changed_by = changed_by
        self.current_version = current_version
