"""Proposing to take an executed write back: the inverse action, built from the stored undo record,
goes through the policy and the gate like any other write (see ``opsgate.writers.undo``)."""

from __future__ import annotations

from opsgate.errors import ExecutionError, InputError
from opsgate.governance.runs import Run
from opsgate.models import Proposal
from opsgate.policy.schema import UNDO_CASE
from opsgate.store.db import transaction
from opsgate.store.tables import ProposalRow
from opsgate.writers.undo import UndoRequest, undo_record


def undo_workflow(proposal_id: str) -> str:
    """The workflow whose write would be taken back, or why nothing can be."""
    with transaction() as session:
        original = session.get(ProposalRow, proposal_id)
        if original is None:
            raise InputError(f"no proposal {proposal_id}; `opsgate runs show RUN` lists a run's proposals")
        try:
            undo_record(session, proposal_id)
        except ExecutionError as exc:
            raise InputError(str(exc)) from None
        return original.workflow


def propose_undo(run: Run, proposal_id: str, reason: str) -> Proposal:
    with transaction() as session:
        original = session.get(ProposalRow, proposal_id)
        if original is None or original.workflow != run.workflow:
            raise InputError(f"proposal {proposal_id} is not one of {run.workflow}'s")
        _, record = undo_record(session, proposal_id)
        target = f"{record.target_table}/{record.target_id}"
        request = UndoRequest(proposal_id=proposal_id, target=target, reason=reason)
        return Proposal(
            workflow=run.workflow,
            source=f"undo of {original.source}",
            case_type=UNDO_CASE,
            tool=record.undo_tool,
            payload=request.model_dump(mode="json"),
            summary=f"take back {target} ({original.tool}): {reason}",
            instruction_version=run.policy.instruction_version,
            tools_used=[record.undo_tool],
        )
