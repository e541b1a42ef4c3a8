"""The invoice flow as a worker loads it from its deployment's entrypoint, with the crash point
named by ``OPSGATE_CRASH_AT`` in the worker's environment armed first (``crashing.arm``): a crash
inside a flow run that a worker started, which only such a run can have (its gate suspends it)."""

from __future__ import annotations

import os

from flows.invoice_extraction import invoice_extraction
from tests.support.crashing import arm

arm(os.environ["OPSGATE_CRASH_AT"])

__all__ = ["invoice_extraction"]
