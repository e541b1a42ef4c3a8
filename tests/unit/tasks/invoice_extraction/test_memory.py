"""The vendor memory: what an approved document teaches, and how the vendor's next document is read with it.

The vendor's statements below use labels the rules do not know ("Our ref", "Balance to settle"):
the rules miss the invoice number and the total, which is what a person then types in.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from opsgate.models import Escalation, EscalationReason
from tasks.invoice_extraction.learning import learn
from tasks.invoice_extraction.memory import Memory, with_memory
from tasks.invoice_extraction.models import Extraction, InvoiceFields
from tasks.invoice_extraction.rules import extract_fields


def statement(
    ref: str,
    issued: str,
    rows: list[str],
    balance: str,
    vendor: str = "Kestrel Supplies Ltd",
    bank: str = "GB33BUKB20201555555555",
) -> str:
    return "\n".join(
        [
            vendor,
            "12 Harbour Road, Leeds LS1 4AB",
            "Phone 0113 496 0000",
            "",
            "Statement of charges",
            f"Our ref        {ref}",
            f"Issued on      {issued}",
            "Customer: Blue Finch GmbH",
            "",
            *rows,
            f"Balance to settle   GBP {balance}",
            f"Pay to IBAN {bank}",
        ]
    )


FIRST = statement(
    "KS/2024/0117", "03/04/2024", ["Widgets 10 x 12.00     120.00", "Carriage                 8.50"], "128.50"
)
SECOND = statement(
    "KS/2024/0142", "05/06/2024", ["Bolts 4 x 15.00     60.00", "Carriage                15.20"], "75.20"
)
# A line the rules take for the total ("Total goods") stands above the amount to pay.
WITH_GOODS_TOTAL = statement(
    "KS/2024/0150", "07/06/2024", ["Bolts 4 x 15.00     60.00", "Total goods     60.00", "Carriage   15.20"], "75.20"
)
APPROVED_FIRST = InvoiceFields(
    vendor_name="Kestrel Supplies Ltd",
    invoice_number="KS/2024/0117",
    invoice_date=date(2024, 4, 3),
    currency="GBP",
    total=Decimal("128.50"),
    iban="GB33BUKB20201555555555",
)


def rules_read(text: str) -> Extraction:
    """What the pipeline hands the memory: the rules' reading, escalated where a required field is missing."""
    read = extract_fields(text)
    missing = [
        Escalation(reason=EscalationReason.MISSING_DATA, field=n, detail=f"{n} not found in the document")
        for n in ("invoice_number", "total")
        if getattr(read.fields, n) is None
    ]
    return Extraction(
        source="doc.txt",
        status="escalated" if missing else "ok",
        fields=read.fields,
        confidence=read.confidence,
        escalations=missing,
        text=text,
        inputs={"sha256": "0" * 64, "bytes": 1},
    )


def test_the_rules_alone_miss_what_the_vendor_prints_under_its_own_labels() -> None:
    read = extract_fields(SECOND)
    assert (read.fields.invoice_number, read.fields.total) == (None, None)


def test_the_second_statement_of_a_vendor_is_read_where_the_first_had_its_values() -> None:
    memory = Memory.of("history.1+test", [learn(FIRST, APPROVED_FIRST, extract_fields(FIRST).fields)])

    read = with_memory(rules_read(SECOND), memory)

    assert (read.fields.invoice_number, read.fields.invoice_date, read.fields.total) == (
        "KS/2024/0142",
        date(2024, 6, 5),
        Decimal("75.20"),
    )
    assert read.status == "ok" and read.escalations == []  # the missing fields are found: nothing left to escalate
    assert read.notices == []  # the rules had nothing to disagree with
    assert read.inputs == {"sha256": "0" * 64, "bytes": 1, "memory": "history.1+test"}


def test_a_value_the_rules_read_otherwise_is_shown_with_a_lower_confidence() -> None:
    """The person approved what the rules proposed (the total was typed, so the memory knows they
    misread it for this vendor): the memory's place wins, and the disagreement is shown."""
    memory = Memory.of("history.1+test", [learn(FIRST, APPROVED_FIRST, extract_fields(FIRST).fields)])

    read = with_memory(rules_read(WITH_GOODS_TOTAL), memory)

    assert read.fields.total == Decimal("75.20")
    assert read.confidence["total"] == 0.6
    [notice] = read.notices
    assert (notice.reason, notice.field) == (EscalationReason.CONFLICTING_SOURCES, "total")
    assert "the rules read 60.00" in notice.detail and "75.20" in notice.detail and "memory kept" in notice.detail
    assert read.status == "ok"  # a notice goes to the approver with the case; it does not stop it


def test_one_document_the_rules_read_right_does_not_overrule_them() -> None:
    """A place seen once, where the rules were right, is weak evidence: the rules' value stays, shown as doubtful."""
    first = statement("KS/2024/0117", "03/04/2024", ["Widgets 10 x 12.00     120.00"], "120.00")
    approved = APPROVED_FIRST.model_copy(update={"total": Decimal("120.00")})
    memory = Memory.of("history.1+test", [learn(first, approved, approved)])

    read = with_memory(rules_read(WITH_GOODS_TOTAL), memory)

    assert read.fields.total == Decimal("60.00")
    assert read.confidence["total"] == 0.6
    assert [n.field for n in read.notices] == ["total"] and "the rules kept" in read.notices[0].detail


def test_a_corrected_field_is_read_the_corrected_way_next_time() -> None:
    """The approver corrected the vendor's name; the next statement, printed the same, reads as corrected."""
    corrected = APPROVED_FIRST.model_copy(update={"vendor_name": "Kestrel Supplies Limited"})
    memory = Memory.of("history.1+test", [learn(FIRST, corrected, extract_fields(FIRST).fields)])

    read = with_memory(rules_read(SECOND), memory)

    assert read.fields.vendor_name == "Kestrel Supplies Limited"
    assert [n.field for n in read.notices] == ["vendor_name"]


def test_the_vendor_is_told_by_its_letterhead_when_the_name_is_misread() -> None:
    memory = Memory.of("history.1+test", [learn(FIRST, APPROVED_FIRST, extract_fields(FIRST).fields)])
    renamed = SECOND.replace(
        "Kestrel Supplies Ltd", "Kestrel Supp1ies Ltd", 1
    )  # a scan's misread name, not one people approved
    found = memory.identify(renamed.split("\n"), InvoiceFields(vendor_name="Kestrel Supp1ies Ltd"))

    assert found is not None and found[0].key == "kestrelsuppliesltd" and "letterhead" in found[1]


def test_another_vendor_is_left_to_the_rules() -> None:
    memory = Memory.of("history.1+test", [learn(FIRST, APPROVED_FIRST, extract_fields(FIRST).fields)])
    other = "\n".join(["Northwind Traders", "Invoice number: NW-88", "Date: 2024-05-02", "Amount due: EUR 310.00"])

    read = with_memory(rules_read(other), memory)

    assert read.fields == extract_fields(other).fields
    assert read.notices == [] and "memory" in read.inputs  # read with the memory, which had nothing to say


def test_a_new_bank_account_for_a_known_vendor_is_escalated() -> None:
    memory = Memory.of("history.1+test", [learn(FIRST, APPROVED_FIRST, extract_fields(FIRST).fields)])
    changed = statement(
        "KS/2024/0142", "05/06/2024", ["Bolts 4 x 15.00     60.00"], "60.00", bank="DE89370400440532013000"
    )

    read = with_memory(rules_read(changed), memory)

    assert read.status == "escalated"
    assert [(e.reason, e.field) for e in read.escalations] == [(EscalationReason.CONFLICTING_SOURCES, "iban")]


def test_dates_are_learnt_in_the_order_the_vendor_prints_them() -> None:
    """03/04/2024 approved as 3 April teaches day first: 05/06/2024 is then the 5th of June."""
    learnt = learn(FIRST, APPROVED_FIRST)
    assert {a.form for a in learnt.anchors["invoice_date"]} == {"dmy"}
    assert [a.label for a in learnt.anchors["invoice_number"]] == ["OUR REF"]
    assert {(a.label, a.form) for a in learnt.anchors["total"]} == {
        ("TO SETTLE GBP", "point")
    }  # the last three words before it


def test_places_that_always_agreed_but_differ_now_leave_the_choice_to_the_rules() -> None:
    """Both amounts held the total on the learnt receipt (nothing was rounded); on the next one they
    differ, and the memory cannot tell which is meant: the rules' reading (the line labelled total,
    though "Goods" comes first on the receipt) stands, with no notice."""

    def receipt(number: str, before: str, after: str) -> str:
        return "\n".join(
            [
                "Corner Hardware Sdn Bhd",
                "Lot 5 Jalan Besar",
                f"Receipt {number}",
                "Hammer 1 x 12.00",
                f"Goods RM {before}",
                f"Total RM {after}",
            ]
        )

    first = receipt("R-0001", "12.00", "12.00")
    approved = InvoiceFields(vendor_name="Corner Hardware Sdn Bhd", invoice_number="R-0001", total=Decimal("12.00"))
    memory = Memory.of("history.1+test", [learn(first, approved, extract_fields(first).fields)])
    later = receipt("R-0002", "12.02", "12.00")
    rules = rules_read(later)

    read = with_memory(rules, memory)

    assert rules.fields.total == Decimal("12.00")
    assert read.fields.total == Decimal("12.00") and [n.field for n in read.notices if n.field == "total"] == []


def test_a_value_from_memory_meets_the_same_checks_as_one_read_from_the_document() -> None:
    """An imported vendor name with a right-to-left override is escalated when the memory uses it."""
    tampered = APPROVED_FIRST.model_copy(update={"vendor_name": "Kestrel Supplies \u202eLtd"})
    memory = Memory.of("history.1+test", [learn(FIRST, tampered, extract_fields(FIRST).fields)])

    read = with_memory(rules_read(SECOND), memory)

    assert read.status == "escalated"
    assert [(e.reason, e.field) for e in read.escalations] == [(EscalationReason.FAILED_CHECK, "vendor_name")]


def test_a_chain_s_address_is_the_approved_one_printed_on_the_receipt() -> None:
    """Two branches were approved with their addresses (people leave the state out; the rules add it);
    a receipt of the first is read with the first's, and one from a branch never seen keeps what the
    rules read, with nothing to disagree about."""

    def receipt(address: str, number: str) -> str:
        return "\n".join(["Sunrise Pharmacy Sdn Bhd", address, "Selangor", f"Receipt no: {number}", "Total RM 9.90"])

    north, south, east = (
        "No 5, Jalan Utara 2, 40150 Shah Alam",
        "Lot 12, Jalan Selatan 9, 47500 Subang Jaya",
        "21 Jalan Timur, 43000 Kajang",
    )
    learnt = [
        learn(
            text,
            InvoiceFields(vendor_name="Sunrise Pharmacy Sdn Bhd", vendor_address=address, total=Decimal("9.90")),
            extract_fields(text).fields,
        )
        for address, text in ((north, receipt(north, "N-01")), (south, receipt(south, "S-01")))
    ]
    memory = Memory.of("history.2+test", learnt)

    at_north = with_memory(rules_read(receipt(north, "N-02")), memory)
    at_east = with_memory(rules_read(receipt(east, "E-01")), memory)

    assert at_north.fields.vendor_address == "No 5, Jalan Utara 2, 40150 Shah Alam"
    assert at_east.fields.vendor_address == "21 Jalan Timur, 43000 Kajang, Selangor"
    assert [n.field for n in at_east.notices if n.field == "vendor_address"] == []


def test_a_vat_id_is_held_against_the_vendors_vat_ids_only() -> None:
    """A posting keeps the IBAN but no VAT id: the first VAT id read later is not "another" one."""
    memory = Memory.of("history.1+test", [learn(FIRST, APPROVED_FIRST, extract_fields(FIRST).fields)])
    with_vat = SECOND.replace("Phone 0113 496 0000", "VAT no: GB123456789")

    read = with_memory(rules_read(with_vat), memory)

    assert extract_fields(with_vat).fields.vendor_tax_id is not None
    assert [e for e in read.escalations if e.field in ("vendor_tax_id", "iban")] == []


def test_an_address_known_from_history_is_given_as_this_document_prints_it() -> None:
    from tasks.invoice_extraction.memory import _as_printed

    lines = [
        "POPULAR BOOK CO. (M) SDN BHD",
        "NO 8, JALAN 7/118B, DESA TUN RAZAK",
        "56000 KUALA LUMPUR, MALAYSIA",
        "TEL: 03-1234",
    ]
    # approved on an earlier receipt whose scan read "RAZAH": this one prints "RAZAK", and that is what it says
    assert _as_printed("NO 8, JALAN 7/118B, DESA TUN RAZAH 56000 KUALA LUMPUR, MALAYSIA", lines) == (
        "NO 8, JALAN 7/118B, DESA TUN RAZAK, 56000 KUALA LUMPUR, MALAYSIA"
    )
    assert _as_printed("1 HIGH STREET, LONDON", lines) == "1 HIGH STREET, LONDON"  # not printed here: kept as approved


def test_a_total_the_rules_confirmed_by_its_parts_is_not_overruled() -> None:
    """The memory's place says one amount, the document's own arithmetic another: the arithmetic stays, the
    disagreement is shown."""
    memory = Memory.of("history.1+test", [learn(FIRST, APPROVED_FIRST, extract_fields(FIRST).fields)])
    read = rules_read(WITH_GOODS_TOTAL)
    confirmed = read.model_copy(update={"confidence": {**read.confidence, "total": 0.97}})

    after = with_memory(confirmed, memory)

    assert after.fields.total == Decimal("60.00")
    assert [n.field for n in after.notices] == ["total"] and "the rules kept" in after.notices[0].detail
