"""A message's attachments kept beside it, in a reader process: names from the sender cannot leave
the message's folder or overwrite each other; an inline logo is not an attachment, a forwarded
message's attachment is; a message that is not one is refused, not fatal."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from opsgate.intake.attachments import safe_name, unpack_attachments
from opsgate.intake.mailbox import MailMessage

PDF = b"%PDF-1.4 an invoice"


def _kept(tmp_path: Path, message: EmailMessage | bytes, uid: int = 1) -> MailMessage:
    path = tmp_path / f"7-{uid}.eml"
    path.write_bytes(message if isinstance(message, bytes) else message.as_bytes())
    return MailMessage(uid, path, uid, None)


def test_sender_names_stay_inside_the_message_folder_and_never_collide(tmp_path: Path) -> None:
    message = EmailMessage()
    message.set_content("two invoices")
    for name in ("../../etc/passwd", "invoice.pdf", "invoice.pdf", "..\\..\\boot.ini", ".hidden"):
        message.add_attachment(PDF, maintype="application", subtype="pdf", filename=name)
    (unpacked,) = unpack_attachments([_kept(tmp_path, message)])
    assert [p.name for p in unpacked.files] == [
        "01-passwd",
        "02-invoice.pdf",
        "03-invoice.pdf",
        "04-boot.ini",
        "05-hidden",
    ]
    assert all(p.parent == tmp_path / "7-1" and p.read_bytes() == PDF for p in unpacked.files)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["7-1.eml", "01-passwd", "02-invoice.pdf", "03-invoice.pdf", "04-boot.ini", "05-hidden"]
    )


def test_an_inline_logo_is_no_attachment_and_a_forwarded_invoice_is(tmp_path: Path) -> None:
    forwarded = EmailMessage()
    forwarded["Subject"] = "Invoice 7"
    forwarded.set_content("see attached")
    forwarded.add_attachment(PDF, maintype="application", subtype="pdf", filename="inv-7.pdf")
    message = EmailMessage()
    message.set_content("FYI")
    message.add_alternative('<p>FYI</p><img src="cid:logo">', subtype="html")
    message.get_payload()[1].add_related(b"\x89PNG logo", maintype="image", subtype="png", cid="<logo>")
    message.add_attachment(forwarded)
    (unpacked,) = unpack_attachments([_kept(tmp_path, message)])
    assert [p.name for p in unpacked.files] == ["01-inv-7.pdf"]


def test_a_message_with_nothing_attached_gives_no_files(tmp_path: Path) -> None:
    message = EmailMessage()
    message.set_content("just a question")
    (unpacked,) = unpack_attachments([_kept(tmp_path, message)])
    assert unpacked.files == [] and unpacked.problem is None


def test_safe_names() -> None:
    assert safe_name(None, 3) == "03-attachment"
    assert safe_name("Rechnung März 2024.pdf", 1) == "01-Rechnung_März_2024.pdf"
    assert safe_name("/abs/path/x.xml", 2) == "02-x.xml"
