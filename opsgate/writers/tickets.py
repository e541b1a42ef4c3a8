"""Routing an inbound request to a queue of the embedded helpdesk, and taking the routing back.

Which queues and groups exist is the policy's word (``tools.tickets.route.values``), checked by
the policy engine for the proposal and for an approver's edit alike; this writer holds what the
store can tell: a request is routed once, and a ticket withdrawn is kept, marked, never deleted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.errors import DuplicateWrite, ExecutionError
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, ProposalRow, TicketRow
from opsgate.writers.base import Writer

ROUTED = "routed"
WITHDRAWN = "withdrawn"


class TicketRouting(BaseModel):
    """The one action the tickets writer accepts: open a ticket for this request in that queue."""

    model_config = ConfigDict(extra="forbid")

    queue: str = Field(min_length=1, max_length=100, description="The queue the request goes to.")
    priority: Literal["high", "normal", "low"] = Field(description="How soon someone should pick it up.")
    assignee_group: str = Field(
        min_length=1,
        max_length=100,
        description="The group that picks it up: the owner group of the queue; change it with the queue.",
    )
    note: str = Field("", max_length=2000, description="For whoever picks it up; states only what the request says.")
    request: str = Field(
        min_length=1, max_length=1000, description="The request's id (its Message-ID or row id); leave as it is."
    )
    subject: str = Field("", max_length=500)
    sender: str = Field("", max_length=500)
    source: str = Field(max_length=4000, description="Where the request was read from; leave as it is.")


def live_ticket(session: Session, request: str) -> TicketRow | None:
    """The routed ticket of this request, if any."""
    query = select(TicketRow).where(TicketRow.request == request, TicketRow.status == ROUTED)
    return session.execute(query.limit(1)).scalar_one_or_none()


class TicketsRoute(Writer):
    tool: ClassVar[str] = "tickets.route"
    undo_tool: ClassVar[str] = "tickets.withdraw"
    table: ClassVar[str] = "tickets"
    payload_model: ClassVar[type[BaseModel]] = TicketRouting
    fixed: ClassVar[frozenset[str]] = frozenset({"request", "subject", "sender", "source"})

    def check(self, session: Session, payload: TicketRouting) -> list[str]:
        existing = live_ticket(session, payload.request)
        if existing is None:
            return []
        return [f"request {payload.request} is already routed to {existing.queue} (ticket {existing.id})"]

    def apply(self, session: Session, payload: TicketRouting, proposal_id: str) -> str:
        problems = self.check(session, payload)
        if problems:
            raise DuplicateWrite(f"{problems[0]}: refusing to open a second ticket")
        row = TicketRow(**payload.model_dump(), status=ROUTED, proposal_id=proposal_id)
        session.add(row)
        session.flush()
        return str(row.id)

    def undo(self, session: Session, target_id: str) -> None:
        """Withdraw the ticket: kept and marked, so the request can be routed again."""
        row = session.get(TicketRow, int(target_id), with_for_update=True)
        if row is None or row.status != ROUTED:
            raise ExecutionError(f"ticket {target_id} is not routed; nothing to withdraw", retryable=False)
        row.status = WITHDRAWN


_APPROVED = select(ApprovalRow.proposal_id).where(ApprovalRow.decision == "approved")  # a person's, never auto


@dataclass(frozen=True)
class RoutedTicket:
    """A request routed through the gate, as it stands: the queue and priority it has now (a
    person's correction included) and what its proposal was made from (the workflow's ``inputs``)."""

    proposal_id: str
    queue: str
    priority: str
    inputs: dict[str, Any]


def routed_tickets(workflow: str) -> list[RoutedTicket]:
    """Every live ticket the workflow's proposals opened that a person approved (as proposed or
    corrected), oldest first: what a classifier learns from people's routing. A withdrawn ticket
    is left out, its routing taken back; so is one routed with no person (a case type on
    ``auto``): it is the classifier's own answer, and learning from it would teach the model what
    it already thinks, its mistakes included."""
    query = (
        select(TicketRow.proposal_id, TicketRow.queue, TicketRow.priority, ProposalRow.inputs)
        .join(ProposalRow, ProposalRow.id == TicketRow.proposal_id)
        .where(ProposalRow.workflow == workflow, TicketRow.status == ROUTED, TicketRow.proposal_id.in_(_APPROVED))
        .order_by(TicketRow.id)
    )
    with transaction() as session:
        return [RoutedTicket(p, q, level, inputs or {}) for p, q, level, inputs in session.execute(query)]


@dataclass(frozen=True)
class TicketsWindow:
    """Tickets opened in a window: the live ones per queue, how many of those no person approved
    (a case type that earned ``auto``), and how many were withdrawn since."""

    by_queue: dict[str, int]
    without_a_person: int
    withdrawn: int


def tickets_in_window(start: datetime, end: datetime) -> TicketsWindow:
    """The tickets routed in [start, end) (UTC moments), as they stand now."""
    with transaction() as session:
        rows = session.execute(
            select(TicketRow.queue, TicketRow.status, TicketRow.proposal_id.in_(_APPROVED)).where(
                TicketRow.routed_at >= start, TicketRow.routed_at < end
            )
        ).all()
    live = [(queue, by_person) for queue, status, by_person in rows if status == ROUTED]
    return TicketsWindow(
        by_queue=dict(sorted(Counter(queue for queue, _ in live).items())),
        without_a_person=sum(1 for _, by_person in live if not by_person),
        withdrawn=sum(1 for _, status, _ in rows if status == WITHDRAWN),
    )
