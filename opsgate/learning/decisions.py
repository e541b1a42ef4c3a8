"""A person's answer at the gate and what opsgate learns from it.

Governance records the answer (``opsgate.governance.review``) and says what was corrected; a
correction in a case type running `auto` means the agent was wrong where nobody looked, so that
case type goes back to `reviewed` at once. Every way an answer arrives (the gate woken from the
Prefect UI, the CLI, recovery of a dead run) goes through here, so none records a correction
without its consequence.
"""

from __future__ import annotations

from typing import Any

from opsgate.governance import review
from opsgate.governance.answers import ApprovalAnswer
from opsgate.governance.review import Recorded
from opsgate.learning.autonomy import demote
from opsgate.models import Decision


def learn_from(recorded: Recorded) -> None:
    """Demote every corrected case type that runs `auto` (``demote`` leaves the others alone)."""
    for case_type, run_id in recorded.corrected:
        reason = f"a person corrected a {case_type} case before approving it"
        demote(recorded.workflow, case_type, reason, {"approver": recorded.approver}, run_id)


def decide(request_id: int, answer: ApprovalAnswer | dict[str, Any]) -> list[Decision]:
    """Record the answer, or refuse it whole (``ApprovalRejected``, audited), then learn from it.
    Returns the decisions cleared for the executor."""
    recorded = review.record(request_id, answer)
    learn_from(recorded)
    return recorded.decisions


def receive(request_id: int, answer: dict[str, Any] | None) -> bool:
    """What woke a paused run, received (``review.receive``) and learnt from; False when the run
    must ask again."""
    received = review.receive(request_id, answer)
    if received.recorded is not None:
        learn_from(received.recorded)
    return received.decided
