"""What each column holds, inferred from its header or given by the user.

The kind of a column decides how it is normalised, blocked on and compared. Only columns whose
header says plainly what they hold are compared by default; everything else is listed as not
compared, so a user sees what was left out and can name it with ``--fields``.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel

from opsgate import ConfigurationError


class Kind(StrEnum):
    NAME = "name"  # a person's full name, or a name of unknown sort
    GIVEN_NAME = "given_name"
    SURNAME = "surname"
    ORGANISATION = "organisation"  # company, vendor, site, school: legal forms are noise
    ADDRESS = "address"
    HOUSE_NUMBER = "house_number"
    CITY = "city"
    POSTCODE = "postcode"
    REGION = "region"
    PHONE = "phone"
    EMAIL = "email"
    DATE = "date"  # date of birth, founding date
    IDENTIFIER = "identifier"  # national id, tax id, registration number: exact or one typo


class Field(BaseModel):
    column: str
    kind: Kind


# Checked in order: the first pattern that matches the normalised header wins.
_HEADER_KINDS: list[tuple[re.Pattern[str], Kind]] = [
    (re.compile(r"\b(?:e_?mail|email_address|mail)\b"), Kind.EMAIL),
    (re.compile(r"\b(?:phone|telephone|tel|mobile|cell|phone_number)\b"), Kind.PHONE),
    (re.compile(r"\b(?:zip|zip_?code|postcode|post_code|postal_code|plz)\b"), Kind.POSTCODE),
    (re.compile(r"\b(?:street_?(?:number|no|nr)|house_?(?:number|no|nr)|building_number)\b"), Kind.HOUSE_NUMBER),
    (re.compile(r"\b(?:dob|date_of_birth|birth_?date|birthday|born)\b"), Kind.DATE),
    (re.compile(r"\b(?:given_?name|first_?name|forename|christian_name)\b"), Kind.GIVEN_NAME),
    (re.compile(r"\b(?:surname|last_?name|family_?name)\b"), Kind.SURNAME),
    (
        re.compile(
            r"\b(?:company|organi[sz]ation|business|vendor|supplier|employer|firm|site|school|agency|merchant)(?:_name)?\b"
        ),
        Kind.ORGANISATION,
    ),
    (
        re.compile(
            r"\b(?:ssn|soc_sec_id|social_security(?:_number)?|national_id|tax_id|vat(?:_id|_number)?|passport(?:_number)?|iban)\b"
        ),
        Kind.IDENTIFIER,
    ),
    (re.compile(r"\b(?:address(?:_?(?:line)?_?1|_?2|_?line_?2)?|street|street_address|addr)\b"), Kind.ADDRESS),
    (re.compile(r"\b(?:city|town|suburb|locality|municipality)\b"), Kind.CITY),
    (re.compile(r"\b(?:state|province|region|county)\b"), Kind.REGION),
    (re.compile(r"^(?:name|full_name|customer_name|contact_name|client_name|person_name|account_name)$"), Kind.NAME),
]


def header_key(header: str) -> str:
    """``"Date of Birth"`` -> ``date_of_birth``: one spelling to match patterns against."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def infer_fields(columns: list[str], id_column: str) -> tuple[list[Field], list[str]]:
    """The columns to compare and the ones left out, from the header alone."""
    fields: list[Field] = []
    skipped: list[str] = []
    for column in columns:
        if column == id_column:
            continue
        key = header_key(column)
        kind = next((k for pattern, k in _HEADER_KINDS if pattern.search(key)), None)
        if kind is None:
            skipped.append(column)
        else:
            fields.append(Field(column=column, kind=kind))
    return fields, skipped


def parse_fields(spec: str, columns: list[str], id_column: str) -> list[Field]:
    """``--fields "Site name:organisation,Address,Zip:postcode"``: a kind after a colon, else inferred."""
    fields: list[Field] = []
    problems: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        column, _, kind = item.rpartition(":") if ":" in item else (item, "", "")
        column = column.strip()
        if column not in columns:
            problems.append(f"no column {column!r} in the file (columns: {', '.join(columns)})")
            continue
        if column == id_column:
            problems.append(f"{column!r} is the id column; it identifies records and is not compared")
            continue
        if kind:
            try:
                fields.append(Field(column=column, kind=Kind(kind.strip().lower())))
            except ValueError:
                problems.append(f"{column}: unknown kind {kind!r} (known: {', '.join(k.value for k in Kind)})")
        else:
            inferred, _ = infer_fields([column], id_column)
            if not inferred:
                problems.append(f"{column}: cannot tell what it holds from its name; write {column}:KIND")
            fields.extend(inferred)
    if problems:
        raise ConfigurationError("--fields: " + "; ".join(problems))
    if not fields:
        raise ConfigurationError("--fields names no column to compare")
    return fields
