"""A workflow's inputs taken from its mailbox: each message once, kept, moved out when its case ends.

A message is named for good by its folder's UIDVALIDITY and its UID, and by its Message-ID (or
the digest of its bytes when it has none), so a copy of a message, or the same messages after
the folder was rebuilt, is never read into a second case. Its bytes are written under the data
directory and recorded in the store in one step before any case is made of it; the message stays
in the folder until every case made of it has ended, then moves to the done folder. Whatever
dies in between, nothing is lost and nothing is read twice:

- a crash after taking and before any case was recorded: the message is offered again, to a run
  that starts once the one that took it has closed;
- a crash after its cases ended and before the move: the next look moves it;
- a message opsgate will not read (too large, nothing in it the workflow reads) is refused with
  its reason and moved to the refused folder, where a person finds it.

Every taking, move and refusal is in the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsgate.errors import ConfigurationError, InputError
from opsgate.governance.runs import RUNNING, Run
from opsgate.intake import imap
from opsgate.models import TERMINAL
from opsgate.policy.schema import Mailbox
from opsgate.settings import get_settings
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import MailMessageRow, ProposalRow, RunRow

logger = logging.getLogger(__name__)

INTAKE = "opsgate-intake"
TAKEN, REFUSING, SETTLED, REFUSED = "taken", "refusing", "settled", "refused"


@dataclass(frozen=True)
class MailMessage:
    """A message taken for a workflow: its bytes in ``path``; what the workflow makes of it goes
    in ``parts`` (attachments), so its cases are found again as those of this message."""

    id: int
    path: Path
    uid: int
    message_id: str | None

    @property
    def parts(self) -> Path:
        return self.path.with_suffix("")


@dataclass(frozen=True)
class Settled:
    moved: int
    refused: int


def _account(mailbox: Mailbox) -> str:
    return f"{mailbox.address}/{mailbox.folder}"


def _as_message(row: MailMessageRow) -> MailMessage:
    assert row.path is not None
    return MailMessage(
        row.id, Path(row.path), row.uid, None if row.message_key.startswith("sha256:") else row.message_key
    )


def take(workflow: str, name: str, mailbox: Mailbox, run_id: str) -> list[MailMessage]:
    """Take the folder's new messages for ``run_id`` and move out what has ended or is refused.
    Returns the new ones with any taken earlier that no case was ever made of (their run closed
    without one)."""
    with imap.session(mailbox) as box:
        account = _account(mailbox)
        with transaction() as session:
            known = set(
                session.execute(
                    select(MailMessageRow.uid).where(
                        MailMessageRow.workflow == workflow,
                        MailMessageRow.account == account,
                        MailMessageRow.uidvalidity == box.uidvalidity,
                    )
                ).scalars()
            )
        new = [uid for uid in box.uids() if uid not in known][: mailbox.max_messages]
        for envelope in box.envelopes(new):
            _take_one(box, workflow, name, mailbox, envelope, run_id)
        _settle(box, workflow, name, mailbox)
    return _offered(workflow, account, run_id)


def _earlier(session: Session, workflow: str, account: str, key: str) -> MailMessageRow | None:
    """The message taken before under this key (Message-ID, or the digest of its bytes)."""
    query = select(MailMessageRow).where(
        MailMessageRow.workflow == workflow, MailMessageRow.account == account, MailMessageRow.message_key == key
    )
    return session.execute(query.order_by(MailMessageRow.id).limit(1)).scalar_one_or_none()


def _take_one(
    box: imap.Session, workflow: str, name: str, mailbox: Mailbox, envelope: imap.Envelope, run_id: str
) -> None:
    """Take one new UID: keep it, refuse it (too large, a copy), or, when the folder was rebuilt
    (another UIDVALIDITY) and this is a message taken before, follow it to its new UID. A copy with
    a Message-ID is told from its envelope, before its bytes are fetched."""
    account = _account(mailbox)
    limit = get_settings().max_message_bytes
    with transaction() as session:
        known = _earlier(session, workflow, account, envelope.message_id) if envelope.message_id else None
        if known is not None and known.uidvalidity != box.uidvalidity:
            _renumber(session, box, mailbox, known, envelope.uid)
            return
    raw = box.fetch(envelope.uid) if envelope.size <= limit and known is None else None
    digest = hashlib.sha256(raw).hexdigest() if raw is not None else None
    key = envelope.message_id or (f"sha256:{digest}" if digest else f"uid:{box.uidvalidity}:{envelope.uid}")
    path = None
    with transaction() as session:
        earlier = known or (_earlier(session, workflow, account, key) if digest else None)
        if earlier is not None and earlier.uidvalidity != box.uidvalidity:
            _renumber(session, box, mailbox, earlier, envelope.uid)
            return
        if earlier is not None:
            state, reason = REFUSING, f"a copy of message {earlier.id}, taken before (the same {_named(key)})"
        elif raw is None:
            state, reason = REFUSING, f"{envelope.size} bytes, over the limit of {limit} (max_message_bytes)"
        else:
            state, reason = TAKEN, None
            path = _keep(workflow, name, box.uidvalidity, envelope.uid, raw)
        row = MailMessageRow(
            workflow=workflow,
            mailbox=name,
            account=account,
            uidvalidity=box.uidvalidity,
            uid=envelope.uid,
            message_key=key,
            digest=digest,
            size=envelope.size,
            path=str(path) if path else None,
            state=state,
            reason=reason,
            run_id=run_id,
        )
        session.add(row)
        session.flush()
        _audit(session, row, AuditEvent.MAIL_TAKEN if state == TAKEN else AuditEvent.MAIL_REFUSED)
    if reason:
        logger.warning("message %s of %s is refused: %s", envelope.uid, mailbox.address, reason)


def _renumber(session: Session, box: imap.Session, mailbox: Mailbox, row: MailMessageRow, uid: int) -> None:
    """The folder was rebuilt and this message, taken before, has a new UID: the row follows it
    (no second case). One whose cases have ended, back in the folder, is moved out again at once."""
    before = f"{row.uidvalidity}/{row.uid}"
    row.uidvalidity, row.uid = box.uidvalidity, uid
    _audit(session, row, AuditEvent.MAIL_RENUMBERED, was=before)
    if row.state in (SETTLED, REFUSED):
        box.move(uid, mailbox.done_folder if row.state == SETTLED else mailbox.refused_folder)


def _named(key: str) -> str:
    return "content" if key.startswith("sha256:") else "Message-ID"


def _keep(workflow: str, name: str, uidvalidity: int, uid: int, raw: bytes) -> Path:
    """Write the message's bytes where its cases can point to them, whole or not at all."""
    folder = get_settings().data_dir / "mail" / workflow / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uidvalidity}-{uid}.eml"
    part = path.with_suffix(".part")
    part.write_bytes(raw)
    os.replace(part, path)
    return path.resolve()


def _offered(workflow: str, account: str, run_id: str) -> list[MailMessage]:
    """Messages taken and waiting for a case: those this run took, and those whose taking run
    closed without recording a case of them."""
    with transaction() as session:
        rows = session.execute(
            select(MailMessageRow)
            .where(
                MailMessageRow.workflow == workflow, MailMessageRow.account == account, MailMessageRow.state == TAKEN
            )
            .order_by(MailMessageRow.id)
        ).scalars()
        offered = []
        for row in rows:
            if _cases(session, row):
                continue
            if row.run_id != run_id and _run_open(session, row.run_id):
                continue
            row.run_id = run_id
            offered.append(_as_message(row))
        return offered


def _run_open(session: Session, run_id: str | None) -> bool:
    """Whether the run that took a message may still make its case (a run that died stays running
    until ``opsgate recover`` closes it)."""
    status = session.execute(select(RunRow.status).where(RunRow.id == run_id)).scalar_one_or_none()
    return status == RUNNING


def _cases(session: Session, row: MailMessageRow) -> list[str]:
    """The statuses of the cases made of the message: of its bytes, or of the parts kept beside it."""
    assert row.path is not None
    parts = str(Path(row.path).with_suffix(""))
    return list(
        session.execute(
            select(ProposalRow.status).where(
                ProposalRow.workflow == row.workflow,
                or_(ProposalRow.source == row.path, ProposalRow.source.startswith(parts + os.sep, autoescape=True)),
            )
        ).scalars()
    )


def refuse(message: MailMessage, reason: str) -> None:
    """The workflow makes no case of this message (nothing in it it reads): record why; the next
    look at the mailbox moves it to the refused folder."""
    with transaction() as session:
        row = session.get(MailMessageRow, message.id)
        assert row is not None
        if row.state != TAKEN:
            return
        row.state, row.reason = REFUSING, reason
        _audit(session, row, AuditEvent.MAIL_REFUSED)


def settle(workflow: str, name: str, mailbox: Mailbox) -> Settled:
    """Move every message whose cases have all ended to the done folder, and refused ones to the
    refused folder."""
    with imap.session(mailbox) as box:
        return _settle(box, workflow, name, mailbox)


def mailbox_named(run: Run, name: str) -> Mailbox:
    """The mailbox the run's policy names ``name``, or a clear error listing the ones it does."""
    mailbox = run.policy.mailboxes.get(name)
    if mailbox is None:
        known = ", ".join(sorted(run.policy.mailboxes)) or "none"
        raise ConfigurationError(f"the policy of {run.workflow} names no mailbox {name!r} (mailboxes: {known})")
    return mailbox


def settle_for(run: Run, name: str) -> Settled | None:
    """Settle the run's mailbox at the end of a run (or at once, for what it refused), and forget
    the kept bytes of messages settled longer ago than the policy keeps documents. A mailbox out of
    reach now leaves its messages where they are: the next run's look moves them (None)."""
    forgotten = forget(run.workflow, name, run.policy.logging.retention_days)
    if forgotten:
        logger.info("%d messages of %s kept past %d days forgotten", forgotten, name, run.policy.logging.retention_days)
    try:
        settled = settle(run.workflow, name, mailbox_named(run, name))
    except InputError as exc:
        logger.warning("the messages of %s stay in their folder until the next run: %s", name, exc)
        return None
    logger.info("%d messages moved out of %s, %d refused", settled.moved, name, settled.refused)
    return settled


def forget(workflow: str, name: str, retention_days: int, now: datetime | None = None) -> int:
    """Delete the kept bytes (and the parts read from them) of the mailbox's messages settled or
    refused more than ``retention_days`` ago; each row stays, with its UID, Message-ID and digest,
    so the message is still never read twice, and each forgetting is audited."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
    with transaction() as session:
        rows = list(
            session.execute(
                select(MailMessageRow).where(
                    MailMessageRow.workflow == workflow,
                    MailMessageRow.mailbox == name,
                    MailMessageRow.state.in_((SETTLED, REFUSED)),
                    MailMessageRow.settled_at < cutoff,
                    MailMessageRow.path.is_not(None),
                )
            ).scalars()
        )
        for row in rows:
            assert row.path is not None
            kept = Path(row.path)
            shutil.rmtree(kept.with_suffix(""), ignore_errors=True)
            kept.unlink(missing_ok=True)  # a crash after this: the next look finds no file and records
            _audit(session, row, AuditEvent.MAIL_FORGOTTEN, retention_days=str(retention_days))
            row.path = None
    return len(rows)


def _settle(box: imap.Session, workflow: str, name: str, mailbox: Mailbox) -> Settled:
    moved = refused = 0
    with transaction() as session:
        rows = list(
            session.execute(
                select(MailMessageRow)
                .where(
                    MailMessageRow.workflow == workflow,
                    MailMessageRow.account == _account(mailbox),
                    MailMessageRow.uidvalidity == box.uidvalidity,
                    MailMessageRow.state.in_((TAKEN, REFUSING)),
                )
                .order_by(MailMessageRow.id)
            ).scalars()
        )
        due = [
            (row.id, row.uid, row.state)
            for row in rows
            if row.state == REFUSING or ((statuses := _cases(session, row)) and all(s in TERMINAL for s in statuses))
        ]
    for row_id, uid, state in due:
        folder = mailbox.refused_folder if state == REFUSING else mailbox.done_folder
        box.move(uid, folder)  # a crash after this and before the record below: the next look moves nothing and records
        with transaction() as session:
            row = session.get(MailMessageRow, row_id)
            assert row is not None
            row.state = REFUSED if state == REFUSING else SETTLED
            row.settled_at = datetime.now(timezone.utc)
            _audit(session, row, AuditEvent.MAIL_MOVED, folder=folder)
        moved += state != REFUSING
        refused += state == REFUSING
    return Settled(moved, refused)


def _audit(session: Session, row: MailMessageRow, event: AuditEvent, **extra: str) -> None:
    audit.append(
        session,
        event,
        workflow=row.workflow,
        run_id=row.run_id,
        actor=INTAKE,
        data={
            "message": row.id,
            "mailbox": row.mailbox,
            "account": row.account,
            "uid": row.uid,
            "uidvalidity": row.uidvalidity,
            "message_key": row.message_key,
            "digest": row.digest,
            "size": row.size,
            "path": row.path,
            "state": row.state,
            "reason": row.reason,
            **extra,
        },
    )
