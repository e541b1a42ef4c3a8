"""Requests from files: ticket exports, mbox, plain text; every bad file or row ends as an error
with its reason, in its place, and the rest are read."""

from __future__ import annotations

import json
import mailbox
from email.message import EmailMessage
from pathlib import Path

from tasks.request_triage.inbound import read_file, read_requests


def test_a_csv_export_keeps_ids_other_columns_and_order(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        'id,text,channel\nT-1,"Card declined, twice",web\nT-2,,phone\n,Where is my parcel?,mail\n', encoding="utf-8"
    )
    rows = read_file(path)
    assert [(r.id, r.text, r.context, r.error) for r in rows] == [
        ("T-1", "Card declined, twice", {"channel": "web"}, None),
        ("T-2", "", {"channel": "phone"}, "tickets.csv row 2: no text"),
        ("row 3", "Where is my parcel?", {"channel": "mail"}, None),
    ]


def test_a_helpdesk_export_s_subject_description_and_sender_columns(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Ticket ID,Subject,Description,From,Queue\n"
        '88,Card blocked,"I tried to pay, it was refused",ops@acme.example,payments\n'
        "89,Parcel,,ann@example.org,orders\n",
        encoding="utf-8",
    )
    first, second = read_file(path)
    assert (first.text, first.subject, first.sender) == (
        "Card blocked\nI tried to pay, it was refused",
        "Card blocked",
        "ops@acme.example",
    )
    assert first.context == {
        "Ticket ID": "88",
        "Subject": "Card blocked",
        "From": "ops@acme.example",
        "Queue": "payments",
    }
    assert first.id == "row 1", "only a column called id names the request"
    assert second.error == "export.csv row 2: no text", "a subject alone is not a request's text"
    lines = tmp_path / "export.jsonl"
    lines.write_text(json.dumps({"ID": "T-9", "body": "Where is my refund?", "text": "Refund"}) + "\n")
    (row,) = read_file(lines)
    assert (row.id, row.text, row.context) == ("T-9", "Refund", {"body": "Where is my refund?"}), "text comes first"


def test_json_lines_with_a_broken_line(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text(json.dumps({"id": 7, "text": "refund please"}) + "\n{not json\n" + json.dumps(["a list"]) + "\n")
    rows = read_file(path)
    assert [(r.id, r.error) for r in rows] == [
        ("7", None),
        ("row 2", "tickets.jsonl row 2: not JSON: Expecting property name enclosed in double quotes at column 2"),
        ("row 3", "tickets.jsonl row 3: not a JSON object"),
    ]


def test_an_mbox_gives_one_request_per_message(tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    for n, body in enumerate(["First: my login fails", "Second: parcel late"], start=1):
        message = EmailMessage()
        message["From"], message["Subject"], message["Message-ID"] = "x@example.com", f"Mail {n}", f"<{n}@example.com>"
        message.set_content(body)
        box.add(message)
    box.flush()
    box.close()
    rows = read_file(tmp_path / "inbox.mbox")
    assert [(r.id, r.text) for r in rows] == [
        ("<1@example.com>", "Mail 1\nFirst: my login fails"),
        ("<2@example.com>", "Mail 2\nSecond: parcel late"),
    ]


def test_bad_files_fail_alone_in_their_place(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt").write_text("My card was stolen", encoding="utf-8")
    (tmp_path / "big.txt").write_bytes(b"x" * 2048)
    (tmp_path / "c.txt").write_text("Returns?", encoding="utf-8")
    monkeypatch.setenv("OPSGATE_MAX_DOCUMENT_BYTES", "1024")
    from opsgate.settings import get_settings

    get_settings.cache_clear()
    rows = read_requests([tmp_path / "a.txt", tmp_path / "big.txt", tmp_path / "missing.eml", tmp_path / "c.txt"])
    get_settings.cache_clear()
    assert [(r.id, r.text, r.error) for r in rows] == [
        ("a", "My card was stolen", None),
        ("big.txt", "", "big.txt: 2048 bytes, over the 1024-byte limit"),
        ("missing.eml", "", "missing.eml: cannot read: No such file or directory"),
        ("c", "Returns?", None),
    ]


def test_a_json_array_export_and_a_csv_cut_by_a_bad_field(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": "A", "text": "login fails"}, "oops", {"id": "B", "text": "refund"}]))
    assert [(r.id, r.error) for r in read_file(path)] == [
        ("A", None),
        ("row 2", "export.json row 2: not a JSON object"),
        ("B", None),
    ]
    monkeypatch.setenv("OPSGATE_READER_MAX_CSV_FIELD_BYTES", "64")
    from opsgate.settings import get_settings

    get_settings.cache_clear()
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("id,text\n1,short\n2," + "x" * 100 + "\n3,never read\n", encoding="utf-8")
    rows = read_file(csv_path)
    get_settings.cache_clear()
    assert [(r.id, r.text) for r in rows][0] == ("1", "short")
    assert rows[1].error is not None and rows[1].error.startswith("t.csv row 2: field larger than field limit (64)")
    assert len(rows) == 2
