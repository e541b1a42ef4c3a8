"""Taking a workflow's inputs from a real mailbox (Debian's Dovecot, over IMAPS and STARTTLS): each
message read once and kept before any case is made of it, left in the folder while its case is
open, moved out when it ends; a crash at either side of a case makes no second case; a copy, an
oversized message and one the workflow reads nothing in are refused with their reasons, and moved
where a person finds them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from opsgate.errors import ConfigurationError, InputError
from opsgate.governance import requests, runs
from opsgate.governance.answers import answer_for
from opsgate.intake import imap, mailbox
from opsgate.learning import decisions
from opsgate.learning.governing import governing
from opsgate.models import Proposal, Status
from opsgate.policy.schema import Mailbox
from opsgate.settings import get_settings
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, MailMessageRow, ProposalRow
from tasks.invoice_extraction.extracting import extract_document
from tasks.invoice_extraction.proposing import propose_all
from tests.support.imap_server import PASSWORD, ImapServer, dovecot
from tests.support.pdf_builder import text_pdf
from tests.support.samples import DE_INVOICE, US_INVOICE

WORKFLOW = "invoice_extraction"
NAME = "ap"
PASSWORD_ENV = "OPSGATE_TEST_IMAP_PASSWORD"


@pytest.fixture
def server(tmp_path: Path, opsgate_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ImapServer]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with dovecot(tmp_path / "dovecot") as started:
        yield started


def _mailbox(server: ImapServer, **changes: object) -> Mailbox:
    return Mailbox.model_validate(server.mailbox(PASSWORD_ENV, **changes))


def _invoice_mail(lines: list[str], subject: str, message_id: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "billing@vendor.example"
    message["To"] = "ap@opsgate.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="vendor.example")
    message.set_content("Please find our invoice attached.")
    message.add_attachment(text_pdf(lines), maintype="application", subtype="pdf", filename="invoice.pdf")
    return message.as_bytes()


def _propose(run: runs.Run, message: mailbox.MailMessage) -> list[Proposal]:
    """What the invoice workflow does with a message: its attachment kept beside it, read, routed."""
    parsed = message_from_bytes(message.path.read_bytes(), policy=policy.default)
    (attachment,) = parsed.iter_attachments()  # type: ignore[attr-defined]
    message.parts.mkdir(exist_ok=True)
    document = message.parts / "invoice.pdf"
    document.write_bytes(attachment.get_content())
    proposals = propose_all([extract_document(document, [])], run.policy)
    runs.check_policy(run, proposals)
    return proposals


def _statuses() -> dict[str, str]:
    with transaction() as session:
        return {row.source: row.status for row in session.execute(select(ProposalRow)).scalars()}


def _events(event: str) -> list[AuditRow]:
    with transaction() as session:
        rows = list(session.execute(select(AuditRow).where(AuditRow.event == event).order_by(AuditRow.seq)).scalars())
        session.expunge_all()
    return rows


def test_a_message_is_read_once_kept_and_moved_when_its_case_ends(server: ImapServer) -> None:
    first = _invoice_mail(US_INVOICE, "Invoice 1")
    server.append(first)
    server.append(_invoice_mail(DE_INVOICE, "Rechnung 2"))
    box = _mailbox(server)
    run = runs.start_run(governing(WORKFLOW), "test")

    taken = mailbox.take(WORKFLOW, NAME, box, run.id)
    assert [m.uid for m in taken] == [1, 2]
    assert taken[0].path.read_bytes().replace(b"\r\n", b"\n") == first.replace(b"\r\n", b"\n"), "kept as it came"
    assert server.uids() == [1, 2], "nothing leaves the folder before its case ends"
    assert b"\\Seen" not in server.flags(1), "reading marks nothing as seen for the people on the mailbox"

    other = runs.start_run(governing(WORKFLOW), "test")
    assert mailbox.take(WORKFLOW, NAME, box, other.id) == [], "a second run while the first is open reads nothing"

    proposals = _propose(run, taken[0])
    mailbox.refuse(taken[1], "the attachment is a delivery note, not an invoice")
    assert mailbox.settle(WORKFLOW, NAME, box) == mailbox.Settled(moved=0, refused=1)
    assert server.uids() == [1] and server.uids("Refused") == [1], "the refused one waits for a person"

    request = requests.open_request(WORKFLOW, run.id, "no-flow-run", "test-1", proposals, requests.deadline_in(600))
    assert list(_statuses().values()) == [Status.AWAITING_APPROVAL]
    assert mailbox.settle(WORKFLOW, NAME, box) == mailbox.Settled(moved=0, refused=0)
    assert server.uids() == [1], "a case waiting for a person keeps its message in the folder"
    decisions.decide(request.id, answer_for(request, "alice", {p.id: "not ours" for p in request.proposals}))
    assert list(_statuses().values()) == [Status.REJECTED]
    assert mailbox.settle(WORKFLOW, NAME, box) == mailbox.Settled(moved=1, refused=0)
    assert server.uids() == [] and server.uids("Processed") == [1]

    again = runs.start_run(governing(WORKFLOW), "test")
    assert mailbox.take(WORKFLOW, NAME, box, again.id) == []
    assert len(_statuses()) == 1, "one case for the one invoice"
    assert [e.data["uid"] for e in _events("mail_taken")] == [1, 2]
    assert [(e.data["uid"], e.data["folder"]) for e in _events("mail_moved")] == [(2, "Refused"), (1, "Processed")]
    (refused,) = _events("mail_refused")
    assert refused.data["reason"] == "the attachment is a delivery note, not an invoice"

    # Retention: the kept bytes go once the policy's days have passed since the message settled;
    # the rows stay, so the messages are still never read again.
    kept = [m.path for m in taken]
    assert mailbox.forget(WORKFLOW, NAME, 30) == 0 and all(path.exists() for path in kept)
    later = datetime.now(timezone.utc) + timedelta(days=31)
    kept[1].unlink()  # as a crash after deleting it and before recording would leave it
    assert mailbox.forget(WORKFLOW, NAME, 30, now=later) == 2
    assert not any(path.exists() for path in kept) and not taken[0].parts.exists()
    assert sorted(e.data["uid"] for e in _events("mail_forgotten")) == [1, 2]
    assert mailbox.forget(WORKFLOW, NAME, 30, now=later) == 0
    assert mailbox.take(WORKFLOW, NAME, box, runs.start_run(governing(WORKFLOW), "test").id) == []
    with transaction() as session:
        assert audit.verify(session).ok


def test_a_crash_on_either_side_of_a_case_makes_no_second_case(
    server: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.append(_invoice_mail(US_INVOICE, "Invoice 1"))
    box = _mailbox(server)
    crashed = runs.start_run(governing(WORKFLOW), "test")
    (taken,) = mailbox.take(WORKFLOW, NAME, box, crashed.id)
    # the run dies before it records a case: while it counts as running nobody else takes the
    # message; once it is closed (as `opsgate recover` closes it), the next run is offered it
    waiting = runs.start_run(governing(WORKFLOW), "test")
    assert mailbox.take(WORKFLOW, NAME, box, waiting.id) == []
    runs.finish_run(crashed)
    (offered,) = mailbox.take(WORKFLOW, NAME, box, waiting.id)
    assert offered == taken

    def die(*_: object) -> None:
        raise KeyboardInterrupt("the process is killed just before the move")

    # its case ends (the attachment cannot be read), and the process dies before the message is moved
    unreadable = offered.parts / "invoice.pdf"
    case = Proposal(
        workflow=WORKFLOW,
        source=str(unreadable),
        case_type="invoice",
        instruction_version=waiting.policy.instruction_version,
        error="not a PDF",
    )
    runs.check_policy(waiting, [case])
    assert list(_statuses().values()) == [Status.FAILED]
    with monkeypatch.context() as patched:
        patched.setattr(imap.Session, "move", die)
        with pytest.raises(KeyboardInterrupt):
            mailbox.settle(WORKFLOW, NAME, box)
    assert server.uids() == [1]

    after = runs.start_run(governing(WORKFLOW), "test")
    assert mailbox.take(WORKFLOW, NAME, box, after.id) == [], "the next look moves it and reads nothing"
    assert server.uids() == [] and server.uids("Processed") == [1]
    assert len(_statuses()) == 1 and len(_events("mail_taken")) == 1


def test_a_rebuilt_folder_is_not_read_again(server: ImapServer) -> None:
    """A restore or migration of the mail store numbers the folder anew (another UIDVALIDITY): a
    message taken before follows its new UID, with no second case, whether its case is still open
    or has ended (then it is moved out again); a copy is still a copy, told from its Message-ID
    without fetching it."""
    for n, lines in enumerate((US_INVOICE, DE_INVOICE), start=1):
        server.append(_invoice_mail(lines, f"Invoice {n}", message_id=f"<inv-{n}@vendor.example>"))
    box = _mailbox(server)
    run = runs.start_run(governing(WORKFLOW), "test")
    first, second = mailbox.take(WORKFLOW, NAME, box, run.id)
    (proposal,) = _propose(run, first)
    request = requests.open_request(WORKFLOW, run.id, "no-flow-run", "test-1", [proposal], requests.deadline_in(600))
    decisions.decide(request.id, answer_for(request, "alice", {proposal.id: "not ours"}))
    _propose(run, second)  # its case waits for a person
    assert mailbox.settle(WORKFLOW, NAME, box) == mailbox.Settled(moved=1, refused=0)
    with imap.session(box) as session:
        before = session.uidvalidity

    server.append(first.path.read_bytes())  # the ended one comes back with the restore
    server.rebuild_inbox()
    server.append(_invoice_mail(US_INVOICE, "Invoice 1 again", message_id="<inv-1@vendor.example>"))  # a true copy
    with imap.session(box) as session:
        assert session.uidvalidity != before, "the folder was numbered anew"
    assert mailbox.take(WORKFLOW, NAME, box, runs.start_run(governing(WORKFLOW), "test").id) == []
    assert len(_statuses()) == 2, "no second case of either message"
    renumbered = _events("mail_renumbered")
    assert sorted(e.data["message_key"] for e in renumbered) == ["<inv-1@vendor.example>", "<inv-2@vendor.example>"]
    refused = _events("mail_refused")
    assert [r.data["reason"] for r in refused] == [
        f"a copy of message {first.id}, taken before (the same Message-ID)"
    ] and refused[0].data["digest"] is None, "the copy was told from its envelope, not fetched"
    assert server.uids("Processed") == [1, 2] and server.uids("Refused") == [1]
    (left,) = server.uids()
    with transaction() as session:
        row = session.get(MailMessageRow, second.id)
        assert row is not None and (row.uid, row.state) == (left, "taken"), "the open one followed its new UID"
        assert audit.verify(session).ok


def test_a_copy_and_an_oversized_message_are_refused_with_their_reasons(
    server: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = make_msgid(domain="vendor.example")
    server.append(_invoice_mail(US_INVOICE, "Invoice", same))
    server.append(_invoice_mail(US_INVOICE, "Invoice (sent again)", same))
    server.append(_invoice_mail(DE_INVOICE + ["x" * 200] * 200, "A large one"))
    box = _mailbox(server)
    run = runs.start_run(governing(WORKFLOW), "test")
    monkeypatch.setenv("OPSGATE_MAX_MESSAGE_BYTES", "6000")
    get_settings.cache_clear()

    taken = mailbox.take(WORKFLOW, NAME, box, run.id)
    assert [m.uid for m in taken] == [1] and taken[0].message_id == same
    with transaction() as session:
        refused = {
            r.uid: r.reason
            for r in session.execute(select(MailMessageRow).where(MailMessageRow.state != "taken")).scalars()
        }
    assert set(refused) == {2, 3}
    assert "a copy of message" in refused[2] and "Message-ID" in refused[2]
    assert "over the limit of 6000" in refused[3] and "max_message_bytes" in refused[3]
    assert mailbox.settle(WORKFLOW, NAME, box) == mailbox.Settled(moved=0, refused=0), "moved by the take already"
    assert len(_events("mail_refused")) == 2
    assert server.uids() == [1] and server.uids("Refused") == [1, 2]


def test_starttls_a_certificate_not_trusted_a_wrong_password_and_no_password(
    server: ImapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.append(_invoice_mail(US_INVOICE, "Invoice 1"))
    run = runs.start_run(governing(WORKFLOW), "test")
    starttls = _mailbox(server, security="starttls", port=server.imap_port)
    assert [m.uid for m in mailbox.take(WORKFLOW, NAME, starttls, run.id)] == [1], "the password only after STARTTLS"

    with pytest.raises(InputError, match="certificate"):
        mailbox.take(WORKFLOW, NAME, _mailbox(server, ca_file=None), run.id)
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(InputError, match="refused the login"):
        mailbox.take(WORKFLOW, NAME, _mailbox(server), run.id)
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(ConfigurationError, match=PASSWORD_ENV):
        mailbox.take(WORKFLOW, NAME, _mailbox(server), run.id)


def test_an_ap_mailbox_is_an_inbox_for_the_invoice_flow(
    server: ImapServer, start_flow: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`opsgate run invoices --mailbox ap`: each message's attachments are the documents; a
    message with nothing attached is refused; once the approved postings are written, the
    messages move to Processed, and the next run reads nothing again."""
    from flows.invoice_extraction import invoice_extraction
    from opsgate.orchestration.resume import submit
    from tasks.invoice_extraction.params import InvoiceParams
    from tests.integration.conftest import FlowInThread, payables_count, wait_for_request
    from tests.support.policies import use_policy_variant

    box = _mailbox(server).model_dump(mode="json", exclude_none=True)
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda policy: policy.update(mailboxes={NAME: box}))
    server.append(_invoice_mail(US_INVOICE, "Invoice 1"))
    server.append(_invoice_mail(DE_INVOICE, "Rechnung 2"))
    chat = EmailMessage()
    chat["From"], chat["To"], chat["Subject"] = "someone@vendor.example", "ap@opsgate.example", "Call me"
    chat.set_content("Could you call me about last month?")
    server.append(chat.as_bytes())

    run = FlowInThread(invoice_extraction, InvoiceParams(mailbox=NAME))
    request = wait_for_request(run=run)
    assert sorted(Path(p.source).name for p in request.proposals) == ["01-invoice.pdf", "01-invoice.pdf"]
    assert all(
        Path(p.source).parent.parent == get_settings().data_dir / "mail" / WORKFLOW / NAME for p in request.proposals
    )
    assert server.uids() == [1, 2] and server.uids("Refused") == [1], "the invoices wait in the folder for their cases"
    submit(request, answer_for(request, "alice"))
    assert run.finish().counts == {"executed": 2} and payables_count() == 2
    assert server.uids() == [] and server.uids("Processed") == [1, 2]
    (refused,) = _events("mail_refused")
    assert refused.data["reason"] == "nothing attached to read as an invoice"

    again = FlowInThread(invoice_extraction, InvoiceParams(mailbox=NAME))
    assert again.finish().counts == {} and len(_statuses()) == 2, "nothing is read twice"
