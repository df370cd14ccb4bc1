"""What every /api write shares: the 4xx error type and the proof of intent a browser session owes."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

from flask import request, session
from flask_login import current_user

CSRF_HEADER = "X-CSRF-Token"  # the page's form token; only session callers send it


class ApiError(Exception):
    """A request answered with a 4xx: status, message and extra JSON fields (e.g. the error's `path`)."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.extra = status, extra


def same_origin() -> bool:
    """A browser's cross-site request carries a foreign Origin (or Referer); scripts send neither."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True
    return source != "null" and urlsplit(source).netloc == request.host


def check_session_intent() -> None:
    """Session callers prove intent with the page's token and this origin; token/Basic callers need not.

    A cookie rides along on any cross-site request; an Authorization header never does.
    """
    if not current_user.is_authenticated:
        return
    sent, expected = request.headers.get(CSRF_HEADER, ""), session.get("csrf")
    valid = isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())
    if not valid or not same_origin():
        raise ApiError(403, f"session writes need the {CSRF_HEADER} header (the page's token)")
