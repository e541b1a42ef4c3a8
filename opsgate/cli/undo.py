"""`opsgate undo`: propose taking one executed write back; it waits for approval like any write."""

from __future__ import annotations

from typing import Annotated

import typer

from opsgate.cli.errors import exits_cleanly
from opsgate.cli.outcomes import print_outcomes


@exits_cleanly
def undo(
    proposal_id: Annotated[str, typer.Argument(help="The executed proposal's id.")],
    by: Annotated[str, typer.Option("--as", help="Your name: the requester, recorded in the audit log.")],
    reason: Annotated[str, typer.Option(help="Why the write is taken back.")],
) -> None:
    """Propose the undo of an executed write (e.g. reverse a posting). The run waits at the gate
    until an approver decides (Prefect UI or `opsgate approvals approve`); the history stays."""
    from opsgate.governance import undoing
    from opsgate.orchestration.server import prefect_api
    from opsgate.orchestration.undo import UndoParams, undo_write

    undoing.undo_workflow(proposal_id)  # a clear error before any run starts
    with prefect_api():
        summary = undo_write(UndoParams(proposal_id=proposal_id, reason=reason, requested_as=by))
    print_outcomes(summary)
