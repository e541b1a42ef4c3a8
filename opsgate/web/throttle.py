"""How often someone may fail to sign in: a guesser gets a handful of tries, then waits.

Failures are counted per name and per client address in a sliding window; while either count is at
the limit, sign-in is refused before the password is checked, and the answer says when to try again.
The counts live in the serving process (one review process per team): a restart forgets them,
which costs a guesser nothing they could not get by waiting, and every failure is in the audit log.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginThrottle:
    def __init__(self, attempts: int, window_seconds: float) -> None:
        self._attempts = attempts
        self._window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and now - failures[0] > self._window:
            failures.popleft()
        return failures

    def wait_seconds(self, *keys: str) -> int:
        """Seconds until any of ``keys`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self._window - (now - failures[0])
                for key in keys
                if len(failures := self._recent(key, now)) >= self._attempts
            ]
        return int(max(waits, default=0)) + (1 if waits else 0)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
