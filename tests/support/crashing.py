"""`opsgate ARGS`, killed with SIGKILL at a named point of the run: the fault matrix's crashes.

Run as ``python -m tests.support.crashing POINT -- ARGS``. The process is the CLI itself, so the
run, its store and its Prefect flow run are real; only the moment of death is chosen. SIGKILL
is what an OOM kill or a pulled plug does: no ``finally``, no ``atexit``, no flush.

Points (where the process dies):
- ``reading``: every document read, before any case is recorded;
- ``proposed``: the cases recorded and routed, before the gate opens a request;
- ``first-write``: the first batch of approved actions written and committed, the others not
  (with ``OPSGATE_EXECUTE_BATCH_SIZE=1``, the first action);
- ``mid-batch``: inside a batch's transaction, the first action written, before the second's write;
- ``write-before-audit``: inside the executor's transaction, after the write and before its
  ``executed`` audit row (so before the commit);
- ``suspending``: at a gate that suspends the run, after the store recorded it suspended and before
  Prefect was asked to (a worker sees its process die and marks the flow run Crashed);
- ``suspending-host``: the same, and the worker that started the process dies with it, as when the
  machine goes: the flow run stays Running in Prefect.

The two ``suspending`` points only make sense in a flow run a worker started: ``crashing_flows``
arms them there.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(
    owner: Any, name: str, before: Callable[..., bool] | None = None, after: Callable[..., bool] | None = None
) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before is not None and before(*args, **kwargs):
            _die()
        result = original(*args, **kwargs)
        if after is not None and after(*args, **kwargs):
            _die()
        return result

    setattr(owner, name, wrapper)


def arm(point: str) -> None:
    """Install the crash at ``point`` (see the module's docstring)."""
    from opsgate.governance import executor, runs
    from opsgate.store import audit

    if point == "reading":
        _wrap(runs, "check_policy", before=lambda *a, **k: True)
    elif point == "proposed":
        _wrap(runs, "check_policy", after=lambda *a, **k: True)
    elif point == "first-write":
        _wrap(executor, "execute_batch", after=lambda *a, **k: True)
    elif point == "mid-batch":
        from opsgate.writers.payables import PayablesPost

        writes: list[str] = []
        _wrap(
            PayablesPost,
            "apply",
            before=lambda self, session, payload, proposal_id: bool(writes.append(proposal_id)) or len(writes) == 2,
        )
    elif point == "write-before-audit":
        _wrap(audit, "append", before=lambda session, event, **k: event == audit.AuditEvent.EXECUTED)
    elif point == "suspending":
        _wrap(runs, "suspend_run", after=lambda *a, **k: True)
    elif point == "suspending-host":

        def with_worker(*args: Any, **kwargs: Any) -> bool:
            os.kill(os.getppid(), signal.SIGKILL)  # the process worker that started this flow run
            return True

        _wrap(runs, "suspend_run", after=with_worker)
    else:
        raise SystemExit(f"unknown crash point {point!r}")


def main(argv: list[str]) -> None:
    point, separator, *args = argv
    assert separator == "--", "usage: python -m tests.support.crashing POINT -- ARGS"
    arm(point)
    from opsgate.cli.app import app

    app(args, prog_name="opsgate")


if __name__ == "__main__":
    main(sys.argv[1:])
