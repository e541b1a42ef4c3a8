"""The append-only, hash-chained audit log.

Each row's hash covers its own content and the previous row's hash, keyed with the audit key
(HMAC-SHA256, ``opsgate.integrity``) that lives outside the database, and a one-row head table
holds the newest number and hash. Changing a row breaks its hash, and without the key nobody can
compute a hash that fits; removing one breaks the chain or the head. Removing the newest rows and
moving the head back is caught two ways: every execution, approval, run and case in the store
must have its events in the chain, and an anchor (the head's number and hash, signed, written
outside the database by ``opsgate audit anchor``) proves that nothing up to it changed since.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import IO, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.display import csv_cell
from opsgate.errors import AuditIntegrityError
from opsgate.integrity import canonical_json, mac, verifies
from opsgate.store.tables import (
    ApprovalRow,
    AuditHeadRow,
    AuditRow,
    EscalationAnswerRow,
    ExecutionRow,
    ProposalRow,
    RunRow,
    TakeUpRequestRow,
    as_utc,
)

GENESIS = "0" * 64
ACTOR_CHARS = 200  # the column's width: an actor named by an answer is bounded before it is written


class AuditEvent(StrEnum):
    TRIGGERED = "triggered"
    PROPOSED = "proposed"
    ESCALATED = "escalated"
    SHADOWED = "shadowed"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CORRECTED = "corrected"
    APPROVAL_REFUSED = "approval_refused"
    EXPIRED = "expired"
    EXECUTED = "executed"
    EXECUTION_REFUSED = "execution_refused"
    FAILED = "failed"
    UNDONE = "undone"
    INCIDENT = "incident"  # someone reported that an executed action went wrong
    AUTONOMY_DEMOTED = "autonomy_demoted"  # an `auto` case type went back to `reviewed` on the evidence
    REMINDED = "reminded"  # a run still waits for decisions close to its deadline
    DELIVERED = "delivered"  # a message (published report, approval notice) posted to a channel
    DELIVERY_FAILED = "delivery_failed"
    IMPORTED = "imported"  # source records loaded into the embedded records store by an operator
    QUARANTINED = "quarantined"  # an input that kept failing was moved aside before it was read again
    COMPLETED = "completed"
    SUSPENDED = "suspended"  # a run let its process go while it waits for a decision; a worker starts it again
    RESUMED = "resumed"  # a suspended run was started again, in a new process, and found its cases in the store
    SUSPENSION_LOST = (
        "suspension_lost"  # its process died while letting go: Prefect never held it, recovery finishes it
    )
    RECOVERED = "recovered"  # opsgate recover finished what a run whose process died left open
    ACCOUNT_ADDED = "account_added"  # an approver's local account was opened
    ACCOUNT_DISABLED = "account_disabled"  # its password no longer authenticates anyone
    ACCOUNT_ENABLED = "account_enabled"  # a disabled account's password authenticates again
    PASSWORD_SET = "password_set"  # an account was given a new password (never recorded)
    SESSIONS_ENDED = (
        "sessions_ended"  # a person's review-screen sessions were ended (signed out by an operator, password, disabled)
    )
    SIGNED_IN = "signed_in"  # someone signed in to the review screen (how, and the groups that vouched)
    SIGN_IN_FAILED = "sign_in_failed"  # a sign-in was refused (wrong password, throttled, a provider error)
    MAIL_TAKEN = "mail_taken"  # a message was read from a mailbox and kept, before any case was made of it
    MAIL_REFUSED = "mail_refused"  # a message will not be read (too large, a copy, nothing the workflow reads)
    MAIL_MOVED = "mail_moved"  # a message left the mailbox's folder: its cases ended, or it was refused
    TAKE_UP_ASKED = "take_up_asked"  # a person asked to take an escalated case up: their values, how they were proven
    TAKEN_UP = "taken_up"  # a person took an escalated case up: it is proposed again with the values they chose
    CLOSED = "closed"  # a person closed an escalated case: dealt with elsewhere, or nothing of the workflow's fits it
    MAIL_RENUMBERED = (
        "mail_renumbered"  # the folder was rebuilt (a new UIDVALIDITY): a message taken before has a new UID
    )
    MAIL_FORGOTTEN = "mail_forgotten"  # the kept bytes of a message whose cases ended passed the retention period


def _content(row: AuditRow) -> dict[str, Any]:
    """What a row's hash covers: everything but the hashes themselves."""
    return {
        "seq": row.seq,
        "at": as_utc(row.at).isoformat(),
        "workflow": row.workflow,
        "run_id": row.run_id,
        "event": row.event,
        "proposal_id": row.proposal_id,
        "actor": row.actor,
        "data": row.data,
    }


def _row_hash(prev_hash: str, row: AuditRow) -> str:
    return mac({"prev": prev_hash, "row": _content(row)})


def intact(row: AuditRow) -> bool:
    """Whether this one row is as opsgate wrote it: its hash is the keyed hash of its content and
    the hash it follows. Only a holder of the audit key can make a row pass."""
    return verifies({"prev": row.prev_hash, "row": _content(row)}, row.hash)


def take_up_asked(asked: TakeUpRequestRow) -> dict[str, Any]:
    """What a take-up request's audit event records of it: all a run takes from the row, so a row
    changed after it was asked for no longer matches its event."""
    return {
        "request": asked.id,
        "case": asked.proposal_id,
        "fields": asked.fields,
        "requested_by": asked.requested_by,
        "authenticated_by": asked.authenticated_by,
    }


def bounded_actor(actor: str) -> str:
    """An actor as it may be stored: control characters shown as escapes, at most the column's width.
    Names can come from an answer sent through the Prefect API; the refusal of a forged one must
    still be written."""
    shown = (
        "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in actor) or "unknown"
    )
    return shown if len(shown) <= ACTOR_CHARS else shown[: ACTOR_CHARS - 1] + "…"


_HELD = "opsgate.audit_held"  # where a transaction that holds the head keeps its chain (``hold_head``)


@dataclass
class _Held:
    """The chain as a transaction that holds the head has extended it: its rows are written at the end."""

    head: AuditHeadRow
    seq: int
    hash: str
    rows: list[AuditRow]


def _locked_head(session: Session) -> AuditHeadRow:
    """The head row, locked for this transaction: concurrent writers queue here, so the chain never forks.
    The lock is taken before the caller's pending rows go out (no autoflush): a row written first
    could wait on a transaction that holds the head and waits on it in turn (two answers to one
    escalated case at once did), a deadlock the database ends by failing one of them. The store is
    made with the row (migration 0017); it is made here only where someone removed it, and the
    chain then no longer verifies against the store's executions."""
    with session.no_autoflush:
        head = session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHeadRow(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def hold_head(session: Session) -> None:
    """Lock the head for the rest of the caller's transaction and keep the events appended from now
    on in memory, to be written together by ``write_held`` before the commit: a batch of many
    actions then reads the head once and writes its events in a few statements, not a few per event.
    Only for a transaction that rolls back whole (no savepoints): the kept chain cannot unwind."""
    head = _locked_head(session)
    session.info[_HELD] = _Held(head, head.seq, head.hash, [])


def write_held(session: Session) -> None:
    """Write the events kept since ``hold_head``, and move the head to the last of them."""
    held: _Held = session.info.pop(_HELD)
    session.add_all(held.rows)
    held.head.seq, held.head.hash = held.seq, held.hash


def append(
    session: Session,
    event: AuditEvent,
    *,
    workflow: str,
    actor: str,
    run_id: str | None = None,
    proposal_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditRow:
    """Append one event in the caller's transaction, so it commits or rolls back with the work."""
    held: _Held | None = session.info.get(_HELD)
    head = held or _locked_head(session)
    row = AuditRow(
        seq=head.seq + 1,
        at=datetime.now(timezone.utc),
        workflow=workflow,
        run_id=run_id,
        event=str(event),
        proposal_id=proposal_id,
        actor=bounded_actor(actor),
        data=json.loads(canonical_json(data or {})),
        prev_hash=head.hash,
    )
    row.hash = _row_hash(head.hash, row)
    if held is not None:
        held.rows.append(row)
    else:
        session.add(row)
    head.seq, head.hash = row.seq, row.hash
    return row


@dataclass(frozen=True)
class VerifyResult:
    rows: int
    first_bad_seq: int | None = None
    problem: str = ""
    anchored: int | None = None  # the newest anchor the chain was checked against

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and not self.problem


class Anchor(BaseModel):
    """The head of the chain at one moment, signed with the audit key and kept outside the database:
    whatever happens to the store later, the chain must still hold this hash at this row."""

    seq: int
    hash: str
    at: datetime
    signature: str

    def signed_content(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": as_utc(self.at).isoformat()}


@dataclass
class _Seen:
    """What the chain says happened, to hold the store's rows against."""

    executed: set[str]
    approvals: set[int]
    runs: set[str]
    proposals: set[str]
    answers: dict[str, str]  # escalated case -> the answer its event gave
    take_ups: dict[str, dict[str, Any]]  # take-up request -> what its event recorded of it
    hashes: dict[int, str]  # at the anchors' rows


def _walk(session: Session, anchor_seqs: set[int]) -> tuple[VerifyResult, _Seen]:
    seen = _Seen(set(), set(), set(), set(), {}, {}, {})
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for row in session.execute(select(AuditRow).order_by(AuditRow.seq).execution_options(yield_per=2000)).scalars():
        if row.seq != expected_seq:
            return VerifyResult(count, expected_seq, f"row {expected_seq} is missing (next row is {row.seq})"), seen
        if row.prev_hash != prev_hash:
            return VerifyResult(
                count, row.seq, f"row {row.seq} does not follow row {row.seq - 1} (previous hash differs)"
            ), seen
        if not intact(row):
            return VerifyResult(
                count,
                row.seq,
                f"row {row.seq} was changed after it was written, or written without the audit key (hash differs)",
            ), seen
        data = row.data if isinstance(row.data, dict) else {}
        if row.event == AuditEvent.EXECUTED and data.get("idempotency_key"):
            seen.executed.add(str(data["idempotency_key"]))
        if row.event in (AuditEvent.APPROVED, AuditEvent.REJECTED) and isinstance(data.get("approval"), int):
            seen.approvals.add(data["approval"])
        if row.event == AuditEvent.TRIGGERED and row.run_id:
            seen.runs.add(row.run_id)
        if row.proposal_id:
            seen.proposals.add(row.proposal_id)
        if row.event in (AuditEvent.TAKEN_UP, AuditEvent.CLOSED) and row.proposal_id:
            seen.answers[row.proposal_id] = str(data.get("answer", AuditEvent.TAKEN_UP))
        if row.event == AuditEvent.TAKE_UP_ASKED and isinstance(data.get("request"), str):
            seen.take_ups[data["request"]] = data
        if row.seq in anchor_seqs:
            seen.hashes[row.seq] = row.hash
        prev_hash, expected_seq, count = row.hash, expected_seq + 1, count + 1
    head = session.get(AuditHeadRow, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (count, prev_hash):
        return VerifyResult(count, count + 1, f"rows after {count} are missing: the head records {head_seq} rows"), seen
    return VerifyResult(count), seen


def _unaccounted(session: Session, seen: _Seen) -> str:
    """Rows of the store whose events the chain lacks: the newest events were removed (and the head
    moved back), or the whole log was emptied, while the work they recorded stayed."""
    checks = (
        ("execution", select(ExecutionRow.idempotency_key), seen.executed, "executed"),
        ("approval", select(ApprovalRow.id), seen.approvals, "approved or rejected"),
        ("run", select(RunRow.id), seen.runs, "triggered"),
        ("case", select(ProposalRow.id), seen.proposals, "any"),
    )
    for what, query, recorded, event in checks:
        missing = [
            key for key in session.execute(query.execution_options(yield_per=5000)).scalars() if key not in recorded
        ]
        if missing:
            return f"{len(missing)} {what}(s) in the store have no {event} audit event (first: {missing[0]}): audit rows were removed"
    answers = select(EscalationAnswerRow.proposal_id, EscalationAnswerRow.answer)
    for case, answer in session.execute(answers.execution_options(yield_per=5000)):
        if seen.answers.get(case) != answer:
            return f"the answer {answer!r} to escalated case {case} is not the one its audit event recorded ({seen.answers.get(case)!r}): the store was changed"
    for asked in session.execute(select(TakeUpRequestRow).execution_options(yield_per=5000)).scalars():
        if seen.take_ups.get(asked.id) != take_up_asked(asked):
            return f"take-up request {asked.id} for case {asked.proposal_id} is not what its take_up_asked audit event recorded: the store was changed"
    return ""


def _against(anchors: list[Anchor], seen: _Seen, rows: int) -> str:
    for anchor in anchors:
        if not verifies(anchor.signed_content(), anchor.signature):
            return f"the anchor of row {anchor.seq} taken at {anchor.at.isoformat()} is not signed with this audit key"
        if rows < anchor.seq:
            return f"the log has {rows} rows but was anchored at row {anchor.seq} ({anchor.at.isoformat()}): rows were removed"
        if seen.hashes.get(anchor.seq) != anchor.hash:
            return f"row {anchor.seq} differs from the anchor taken at {anchor.at.isoformat()}: the log up to it was rewritten"
    return ""


def verify(session: Session, anchors: list[Anchor] | None = None) -> VerifyResult:
    """Walk the chain from the first row and report the first row that does not verify; then hold
    the store's executions, approvals, runs and cases against the events the chain has, and the
    chain against the anchors given."""
    anchors = anchors or []
    result, seen = _walk(session, {a.seq for a in anchors})
    if not result.ok:
        return result
    problem = _unaccounted(session, seen) or _against(anchors, seen, result.rows)
    if problem:
        return VerifyResult(result.rows, None, problem)
    return VerifyResult(result.rows, anchored=max((a.seq for a in anchors), default=None))


def anchor(session: Session) -> Anchor:
    """The verified head of the chain, signed: refused when the chain does not verify, since an
    anchor taken over a tampered log would vouch for it."""
    result = verify(session)
    if not result.ok:
        raise AuditIntegrityError(f"audit log does not verify, so it is not anchored: {result.problem}")
    head = session.get(AuditHeadRow, 1)
    seq, hash_ = (head.seq, head.hash) if head else (0, GENESIS)
    unsigned = Anchor(seq=seq, hash=hash_, at=datetime.now(timezone.utc), signature="")
    return unsigned.model_copy(update={"signature": mac(unsigned.signed_content())})


def read_anchors(lines: Iterable[str], where: str) -> list[Anchor]:
    """Anchors from a file of JSON lines, as ``opsgate audit anchor --to`` appends them."""
    anchors = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            anchors.append(Anchor.model_validate_json(line))
        except ValidationError as exc:
            raise AuditIntegrityError(f"{where} line {number} is not an anchor: {exc.errors()[0]['msg']}") from None
    if not anchors:
        raise AuditIntegrityError(f"{where} holds no anchor")
    return anchors


EXPORT_COLUMNS = ("seq", "at", "workflow", "run_id", "event", "proposal_id", "actor", "data", "prev_hash", "hash")


def export_rows(session: Session, workflow: str | None = None) -> Iterator[dict[str, Any]]:
    query = select(AuditRow).order_by(AuditRow.seq)
    if workflow:
        query = query.where(AuditRow.workflow == workflow)
    for row in session.execute(query).scalars():
        yield {**_content(row), "prev_hash": row.prev_hash, "hash": row.hash}


def write_export(rows: Iterable[dict[str, Any]], out: IO[str], fmt: str) -> int:
    """Write rows as JSON lines or CSV (``data`` as a JSON string in CSV); returns the count. A CSV
    cell a spreadsheet would run as a formula (an approver named ``=HYPERLINK(...)``) is written
    with a leading ``'``: the export is opened by people, not only read by machines."""
    count = 0
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in rows:
        if writer is None:
            out.write(canonical_json(row) + "\n")
        else:
            writer.writerow(
                {key: csv_cell(value) for key, value in {**row, "data": canonical_json(row["data"])}.items()}
            )
        count += 1
    return count
