"""Capped exponential backoff for infrastructure retries."""

from __future__ import annotations


class Backoff:
    """Capped exponential delay: 0.1 s, 0.2 s, ... up to `cap_s`; reset after a success."""

    def __init__(self, first_s: float = 0.1, cap_s: float = 5.0) -> None:
        self._first, self._cap, self._next = first_s, cap_s, first_s

    def next(self) -> float:
        delay, self._next = self._next, min(self._cap, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self._first
