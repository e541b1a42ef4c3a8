"""E-mails as people send them: nested multipart, HTML only, Latin-1, forwarded, replies with
quotes and signatures, and a large attachment that is listed, not read."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from tasks.request_triage.inbound import read_file
from tasks.request_triage.mime import html_text, message_text, own_words


def _message(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_nested_multipart_takes_the_plain_text_and_lists_the_attachment(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"], message["Subject"], message["Message-ID"] = "Ana <ana@example.com>", "Refund", "<m1@example.com>"
    message.set_content("Please refund order 4411.\n\n-- \nAna Lopez\nSales")
    message.add_alternative("<p>Please refund <b>order 4411</b>.</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.4 " + b"x" * (20 * 1024 * 1024), maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    path = tmp_path / "refund.eml"
    path.write_bytes(bytes(message))

    (request,) = read_file(path)
    assert (request.id, request.subject, request.text) == (
        "<m1@example.com>",
        "Refund",
        "Refund\nPlease refund order 4411.",
    )
    assert [(a.filename, a.content_type) for a in request.attachments] == [("invoice.pdf", "application/pdf")]
    assert request.attachments[0].size > 20 * 1024 * 1024


def test_html_only_is_read_as_the_text_a_mail_reader_shows() -> None:
    html = "<html><head><style>p{color:red}</style></head><body><p>My card&nbsp;was <b>declined</b>.</p><script>alert(1)</script><div>Ana</div></body></html>"
    assert html_text(html) == "My card was declined.\n\nAna"


def test_latin_1_and_quoted_printable_are_decoded() -> None:
    raw = (
        "From: jose@example.es\nSubject: =?iso-8859-1?q?Devoluci=F3n?=\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
        "Quiero devolver el art=EDculo, est=E1 roto.\n"
    ).encode("ascii")
    message = _message(raw)
    assert message_text(message) == "Quiero devolver el artículo, está roto."
    assert str(message["subject"]) == "Devolución"


def test_a_reply_keeps_only_the_new_words_and_a_forward_keeps_what_was_forwarded() -> None:
    reply = "Still nothing arrived.\n\nOn Mon, 3 Jun 2024, Support <help@shop.example> wrote:\n> Your parcel is on its way.\n> Regards"
    assert own_words(reply) == "Still nothing arrived."
    forward = "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nMy invoice 7781 is wrong."
    assert "My invoice 7781 is wrong." in own_words(forward)


def test_a_mail_with_a_wrong_charset_is_read_not_failed() -> None:
    raw = b"From: a@example.com\nContent-Type: text/plain; charset=no-such-charset\n\nCaf\xe9 order late\n"
    assert message_text(_message(raw)) == "Café order late"
