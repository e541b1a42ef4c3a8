"""Which columns are compared, and as what."""

from __future__ import annotations

import pytest

from opsgate.errors import ConfigurationError
from tasks.duplicate_flagging.fields import Kind, infer_fields, parse_fields


def test_kinds_are_inferred_from_common_headers() -> None:
    columns = [
        "Customer ID",
        "First Name",
        "Last Name",
        "Date of Birth",
        "E-mail",
        "Phone Number",
        "ZIP",
        "Street Address",
        "City",
        "Notes",
    ]
    fields, skipped = infer_fields(columns, "Customer ID")
    assert {f.column: f.kind for f in fields} == {
        "First Name": Kind.GIVEN_NAME,
        "Last Name": Kind.SURNAME,
        "Date of Birth": Kind.DATE,
        "E-mail": Kind.EMAIL,
        "Phone Number": Kind.PHONE,
        "ZIP": Kind.POSTCODE,
        "Street Address": Kind.ADDRESS,
        "City": Kind.CITY,
    }
    assert skipped == ["Notes"]  # said, not silently compared


def test_organisation_and_identifier_headers() -> None:
    fields, _ = infer_fields(["vendor_id", "Vendor Name", "VAT number", "soc_sec_id", "street_number"], "vendor_id")
    assert [f.kind for f in fields] == [Kind.ORGANISATION, Kind.IDENTIFIER, Kind.IDENTIFIER, Kind.HOUSE_NUMBER]


def test_fields_option_names_kinds_or_infers_them() -> None:
    fields = parse_fields("Site name:organisation, Zip , Phone:phone", ["Id", "Site name", "Zip", "Phone"], "Id")
    assert [(f.column, f.kind) for f in fields] == [
        ("Site name", Kind.ORGANISATION),
        ("Zip", Kind.POSTCODE),
        ("Phone", Kind.PHONE),
    ]


def test_fields_option_reports_every_problem_at_once() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_fields("Nope, Id, Zip:colour, Remarks", ["Id", "Zip", "Remarks"], "Id")
    message = str(info.value)
    assert (
        "no column 'Nope'" in message
        and "id column" in message
        and "unknown kind 'colour'" in message
        and "Remarks:KIND" in message
    )
