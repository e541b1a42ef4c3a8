"""Readers for the isolation tests: each does one thing a hostile input can make a parser do.

They live in a module of their own because a worker process imports its reader by name."""

from __future__ import annotations

import os
import signal
import time


def behave(item: tuple[str, int]) -> object:
    """``(what, n)``: answer ``n * 2``, be killed, abort, allocate ``n`` bytes, spin, sleep ``n``
    seconds, answer ``n`` bytes, raise, or say which process read it."""
    what, n = item
    if what == "double":
        return n * 2
    if what == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if what == "abort":
        os.abort()
    if what == "allocate":
        return len(bytearray(n))
    if what == "spin":
        while True:
            pass
    if what == "sleep":
        time.sleep(n)
        return n
    if what == "answer":
        return b"x" * n
    if what == "raise":
        raise ValueError(f"cannot read item {n}")
    if what == "pid":
        return os.getpid()
    raise AssertionError(what)
