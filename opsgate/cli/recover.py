"""`opsgate recover`: finish what runs whose process died left open (see ``opsgate.governance.recovery``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.errors import OpsgateError
from opsgate.governance.recovery import waiting_until


@exits_cleanly
def recover(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per recovered run.")] = False,
) -> None:
    """Find runs whose process died; decide the answers the Prefect UI sent them, write what people
    approved (exactly once), expire what passed its deadline, close runs with nothing open, and audit
    it all. Tend runs suspended at the gate: remind before the deadline, expire what passed it, and
    start a run with nothing left to wait for again, for a worker to finish. Cases still waiting for
    a person before their deadline stay open: a decision recorded later is written by the next
    recovery. Exit 0 unless something could not be finished now."""
    from opsgate.orchestration.recovery import recover_all
    from opsgate.orchestration.server import prefect_api

    with prefect_api():
        reports = recover_all()
    if as_json:
        for report in reports:
            typer.echo(json.dumps(report.model_dump(mode="json")))
    elif not reports:
        Console().print("no run's process has died and none is suspended: nothing to recover")
    else:
        table = Table(
            "run",
            "workflow",
            "answers",
            "written",
            "failed",
            "expired",
            "waiting",
            "run now",
            title="runs whose process died or was let go at the gate",
        )
        for r in reports:
            until = waiting_until(r.run_id) if r.waiting else None
            state = (
                "closed (recovered)"
                if r.closed
                else "started again (was suspended)"
                if r.woken
                else f"open: {r.waiting} wait until {until:%Y-%m-%d %H:%M} UTC"
                if until
                else "open"
            )
            table.add_row(
                r.run_id[:8],
                r.workflow,
                str(r.answers),
                str(r.executed),
                str(r.failed),
                str(r.expired),
                str(r.waiting),
                state,
            )
        Console().print(table)
    unfinished = [f"{r.run_id[:8]}: {problem}" for r in reports for problem in r.unfinished]
    if unfinished:
        raise OpsgateError(
            f"{len(unfinished)} things could not be finished now (the next recovery tries again): "
            + "; ".join(unfinished[:5])
        )
