"""Database rows. Kept apart from the domain models in ``opsgate.models``: rows are storage.

Two groups live here: opsgate's own bookkeeping (runs, proposals, approval requests, approvals,
corrections, executions, undo records, the audit log, fitted match models, the fact sheets runs
computed, approvers' local accounts) and the embedded systems of record that the executor may write to (payables, records,
record merges, reports, autonomy grants, instruction releases). No agent
writes the second group but through the executor; the one other writer is the operator's import
of records (``opsgate.writers.record_sets``), which loads source data and never merges.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Money(TypeDecorator[Decimal]):
    """Exact decimal amounts: NUMERIC where the database has it, text on SQLite (which has not)."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(14, 2))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(Decimal(value)) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored moment is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    """One workflow run: how it was triggered and how it ended."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(100), index=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    trigger: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(100))
    # the policy the run started under, as JSON text (JSONB would sort its keys, and their order means
    # something): whichever process decides or writes for the run reads this one
    policy: Mapped[str | None] = mapped_column(Text)
    instruction_version: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30), default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # the process running it, and when it last showed life: `opsgate recover` finishes runs whose process died
    host: Mapped[str | None] = mapped_column(String(300))
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProposalRow(Base):
    """One input case of a run and, when one could be made, the action proposed for it.

    An input that fails before any action can be proposed is still a row (status ``failed``,
    no tool): every input ends here in a terminal state.
    """

    __tablename__ = "proposals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    workflow: Mapped[str] = mapped_column(String(100), index=True)
    source: Mapped[str] = mapped_column(Text)
    case_type: Mapped[str] = mapped_column(String(100))
    tool: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    digest: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    escalations: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(30), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    instruction_version: Mapped[str] = mapped_column(String(100))
    # what the case was proposed from, as it was then (a document's digest, the records' values):
    # replay reads it, and knows an input changed since
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # facts the workflow stated (vendor_known): the case type is worked out again from an approved action
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # the escalated case a person took up, this case its answer (``governance.escalations``)
    taken_up_from: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ApprovalRequestRow(Base):
    """A batch of proposals waiting at a paused flow run's gate."""

    __tablename__ = "approval_requests"
    __table_args__ = (UniqueConstraint("flow_run_id", "pause_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(String(64), index=True)
    pause_key: Mapped[str] = mapped_column(String(100))
    workflow: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64))
    proposal_ids: Mapped[list[str]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(30), default="pending", index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    page: Mapped[int | None] = mapped_column(Integer)  # of a batch decided page by page
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # 2 and on: second approvers (four eyes)
    answer_digest: Mapped[str | None] = mapped_column(
        String(64)
    )  # the answer recorded, to tell a second one from its echo


class ApprovalRow(Base):
    """A person's decision on one proposal, bound to the digest of the exact action approved."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"))
    decision: Mapped[str] = mapped_column(String(20))
    approver: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    proposal_digest: Mapped[str] = mapped_column(String(64))
    action_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    action_digest: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CorrectionRow(Base):
    """A field an approver changed: the proposed and the approved value, for correction rates."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"))
    field: Mapped[str] = mapped_column(String(100))
    proposed_value: Mapped[Any] = mapped_column(JSONType)
    approved_value: Mapped[Any] = mapped_column(JSONType)
    corrected_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExecutionRow(Base):
    """The idempotency key of a write, committed in the same transaction as the write itself."""

    __tablename__ = "executions"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    tool: Mapped[str] = mapped_column(String(100))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    target_table: Mapped[str] = mapped_column(String(100))
    target_id: Mapped[str] = mapped_column(String(100))
    executed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UndoRow(Base):
    """How to take one write back: the undo tool and what it needs."""

    __tablename__ = "undo_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(ForeignKey("executions.idempotency_key"), unique=True)
    undo_tool: Mapped[str] = mapped_column(String(100))
    target_table: Mapped[str] = mapped_column(String(100))
    target_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[str | None] = mapped_column(String(200))


class AuditRow(Base):
    """One append-only audit event; ``hash`` covers this row's content and ``prev_hash``."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    workflow: Mapped[str] = mapped_column(String(100), index=True)
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    proposal_id: Mapped[str | None] = mapped_column(String(36), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHeadRow(Base):
    """The newest audit row's number and hash: makes removing the last rows detectable, and is
    the row concurrent writers lock so that the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class UserRow(Base):
    """A local account: an approver's name and an argon2 hash of their password, never the password.
    ``key`` is the name as ``policy.runtime.person`` reduces it, so "Ana" and " ana " are one account."""

    __tablename__ = "users"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ReviewSessionRow(Base):
    """A review-screen session. The browser's cookie carries a random token; the store keeps only
    its SHA-256, so ending a session here ends it wherever its cookie went, and whoever reads the
    database holds no usable token."""

    __tablename__ = "review_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    person: Mapped[str] = mapped_column(String(100), index=True)  # the name as policy.runtime.person reduces it
    authenticated_by: Mapped[str] = mapped_column(String(20))
    groups: Mapped[list[str]] = mapped_column(JSONType, default=list)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_why: Mapped[str] = mapped_column(Text, default="")


class PayableRow(Base):
    """System of record: invoices posted to accounts payable (the embedded default's ledger)."""

    __tablename__ = "payables"
    __table_args__ = (
        # The last line of defence against a double payment: one live posting per vendor and
        # invoice number, even when two executors race past the writer's own check.
        Index(
            "uq_payables_live_posting",
            "vendor_key",
            "invoice_number",
            unique=True,
            postgresql_where=text("status = 'posted'"),
            sqlite_where=text("status = 'posted'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vendor_name: Mapped[str | None] = mapped_column(String(300))
    vendor_key: Mapped[str] = mapped_column(String(300), index=True)
    invoice_number: Mapped[str] = mapped_column(String(100), index=True)
    document_type: Mapped[str] = mapped_column(String(30))
    invoice_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal | None] = mapped_column(Money)
    tax_total: Mapped[Decimal | None] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    po_number: Mapped[str | None] = mapped_column(String(100))
    iban: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)
    proposal_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="posted")
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RecordRow(Base):
    """System of record: customer and vendor master records; merges mark, never delete.

    ``data_digest`` is the digest of ``data``; ``checked_digest`` is the digest the last run
    that matched this record saw. Where they differ the record is new or changed: what an
    incremental run matches against the rest.
    """

    __tablename__ = "records"
    __table_args__ = (UniqueConstraint("kind", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    external_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("records.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    data_digest: Mapped[str | None] = mapped_column(String(64))
    checked_digest: Mapped[str | None] = mapped_column(String(64))


class RecordMergeRow(Base):
    """One executed merge: who survived, who was folded in, and the survivor's before and after
    images, so the merge can be taken back exactly."""

    __tablename__ = "record_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    survivor_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    merged_ids: Mapped[list[int]] = mapped_column(JSONType)
    survivor_before: Mapped[dict[str, Any]] = mapped_column(JSONType)
    survivor_after: Mapped[dict[str, Any]] = mapped_column(JSONType)
    proposal_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="merged")
    merged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MatchModelRow(Base):
    """The match model a full run fitted for one kind of record: an incremental run scores new
    records with it instead of fitting again, and decisions people made refine it."""

    __tablename__ = "match_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30), index=True)
    fields: Mapped[list[Any]] = mapped_column(JSONType)
    model: Mapped[dict[str, Any]] = mapped_column(JSONType)
    run_id: Mapped[str] = mapped_column(String(64))
    fitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TrainedModelRow(Base):
    """A model a workflow trained (a request classifier): its arrays as bytes, never code, what it
    was trained on, and a tag under the audit key, so a model changed in the store is refused."""

    __tablename__ = "trained_models"
    __table_args__ = (Index("ix_trained_models_workflow_kind", "workflow", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    version: Mapped[str] = mapped_column(String(80), unique=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType)
    tag: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MailMessageRow(Base):
    """A message taken from a workflow's mailbox: which one (folder's UIDVALIDITY and UID, and its
    Message-ID), where its bytes were kept, what the workflow made of it, and whether it has been
    moved out of the folder. Taken once: a message already here is never read into a second case."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        UniqueConstraint("workflow", "account", "uidvalidity", "uid", name="uq_mail_messages_uid"),
        Index("ix_mail_messages_key", "workflow", "account", "message_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(100))
    mailbox: Mapped[str] = mapped_column(String(100))
    account: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_key: Mapped[str] = mapped_column(String(1000))
    digest: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    sources: Mapped[list[str] | None] = mapped_column(JSONType)
    run_id: Mapped[str | None] = mapped_column(String(64))
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FactSheetRow(Base):
    """The facts one run computed for a report, stored with the run: the flat figures a summary
    may state (what every figure in a published text is checked against), the full facts model,
    and the report's fixed parts (tables and charts) that no one edits at the gate."""

    __tablename__ = "fact_sheets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    workflow: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    appendix: Mapped[str] = mapped_column(Text)
    charts: Mapped[list[Any]] = mapped_column(JSONType)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EscalationAnswerRow(Base):
    """A person's answer to an escalated case (``governance.escalations``), at most one per case:
    the primary key refuses a second, whoever gives it and however they race."""

    __tablename__ = "escalation_answers"

    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(100), index=True)
    answer: Mapped[str] = mapped_column(String(20))  # taken_up, closed, not_ours
    answered_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    taken_up_as: Mapped[str | None] = mapped_column(String(36))  # the new case's proposal, when taken up
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TakeUpRequestRow(Base):
    """A person's request to take an escalated case up with their values, recorded where they were
    proven (the review screen's sign-in, the CLI's typed name) before any run starts. The take-up
    flow is given only this row's id, so who asked is what was recorded here, never a parameter
    anyone with the Prefect API could fill in; and one run uses it (``run_id``), once."""

    __tablename__ = "take_up_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    workflow: Mapped[str] = mapped_column(String(100))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    requested_by: Mapped[str] = mapped_column(String(200))
    authenticated_by: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    run_id: Mapped[str | None] = mapped_column(String(36))  # the run that used it; set once


class TicketRow(Base):
    """System of record: inbound requests routed to a queue (the embedded default's helpdesk).
    One live ticket per request: a request routed twice is refused, not duplicated."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "uq_tickets_live_request",
            "request",
            unique=True,
            postgresql_where=text("status = 'routed'"),
            sqlite_where=text("status = 'routed'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request: Mapped[str] = mapped_column(String(1000))
    source: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(500))
    sender: Mapped[str] = mapped_column(String(500))
    queue: Mapped[str] = mapped_column(String(100), index=True)
    priority: Mapped[str] = mapped_column(String(10))
    assignee_group: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="routed")
    proposal_id: Mapped[str] = mapped_column(String(36), index=True)
    routed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReportRow(Base):
    """System of record: published reports. A newer report on the same subject supersedes the
    live one; undo withdraws a report and puts the one it superseded back in force."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(300))
    narrative: Mapped[dict[str, Any]] = mapped_column(JSONType)
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    fact_sheet_id: Mapped[int] = mapped_column(ForeignKey("fact_sheets.id"))
    proposal_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="published")
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    deliveries: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AutonomyGrantRow(Base):
    """System of record for earned autonomy: a case type's mode as changed after the policy file
    (promoted to `auto` by the owner's approval, or demoted to `reviewed` by opsgate). The newest
    grant in force for a case type overrides the file; revoking one falls back to the one before."""

    __tablename__ = "autonomy_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(100), index=True)
    case_type: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    proposal_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="in_force")
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InstructionReleaseRow(Base):
    """System of record for going live: an instruction version the owner released after its
    replay, beyond those the policy file lists. Withdrawing one shadows its cases again."""

    __tablename__ = "instruction_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    proposal_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="in_force")
    released_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocumentTextRow(Base):
    """The text a proposal was read from, by the SHA-256 of the document's bytes: what a workflow
    that learns from approved cases (the invoice memory) reads again once the case is executed."""

    __tablename__ = "document_texts"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LearntDocumentRow(Base):
    """One approved document a workflow learnt from: imported history or an executed case
    (``origin``: ``import:<digest>`` or ``proposal:<id>``, one row each), with its approved values and
    what they taught (``profile``). The text is kept so that a better learner can learn again."""

    __tablename__ = "learnt_documents"
    __table_args__ = (UniqueConstraint("workflow", "origin"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(100), index=True)
    origin: Mapped[str] = mapped_column(String(120))
    digest: Mapped[str] = mapped_column(String(64))
    vendor: Mapped[str] = mapped_column(String(300), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONType)
    text: Mapped[str] = mapped_column(Text)
    learnt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
