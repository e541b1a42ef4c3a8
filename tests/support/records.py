"""Invented company records with planted duplicates, for the duplicate-flagging tests."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

HEADER = ["id", "company_name", "address", "city", "postcode", "phone", "email"]

_FIRST = [
    "Acme",
    "Birch",
    "Cobalt",
    "Delta",
    "Ember",
    "Falcon",
    "Granite",
    "Harbor",
    "Indigo",
    "Juniper",
    "Kestrel",
    "Lumen",
]
_SECOND = ["Widgets", "Consulting", "Foods", "Logistics", "Printing", "Software"]
_STREETS = ["High Street", "Market Avenue", "Mill Road", "Church Lane", "Station Road", "Park Drive"]
_CITIES = [("London", "SW1A 1AA"), ("Leeds", "LS1 4AP"), ("Bristol", "BS1 5TR"), ("Glasgow", "G1 1XQ")]

# Each planted duplicate: (id of the original, id of the copy, how the copy differs)
PLANTED = [
    ("c005", "d1", "legal form and abbreviations"),
    ("c017", "d2", "typo in the name, phone formatting"),
    ("c040", "d3", "e-mail case, no postcode"),
]


def _originals() -> list[dict[str, str]]:
    rows = []
    for i, (first, second) in enumerate(itertools.product(_FIRST, _SECOND)):
        city, postcode = _CITIES[i % len(_CITIES)]
        rows.append(
            {
                "id": f"c{i:03d}",
                "company_name": f"{first} {second} Ltd",
                "address": f"{10 + 7 * i} {_STREETS[i % len(_STREETS)]}",
                "city": city,
                "postcode": postcode,
                "phone": f"+44 20 7946 {1000 + 37 * i:04d}",
                "email": f"info@{first.lower()}{second.lower()}.co.uk",
            }
        )
    return rows


def _copy(original: dict[str, str], new_id: str, how: str) -> dict[str, str]:
    row = dict(original, id=new_id)
    if how.startswith("legal form"):
        row["company_name"] = row["company_name"].replace(" Ltd", " Limited").upper()
        row["address"] = row["address"].replace("Street", "St.").replace("Avenue", "Ave").replace("Road", "Rd")
    elif how.startswith("typo"):
        name = row["company_name"]
        row["company_name"] = name[:3] + name[4] + name[3] + name[5:]  # two letters swapped
        row["phone"] = "020 7946 " + row["phone"][-4:]
    else:
        row["email"] = row["email"].upper()
        row["postcode"] = ""
    return row


def company_records() -> tuple[list[dict[str, str]], set[frozenset[str]]]:
    """72 distinct companies and three planted copies; the true duplicate pairs."""
    rows = _originals()
    by_id = {r["id"]: r for r in rows}
    rows += [_copy(by_id[original], copy, how) for original, copy, how in PLANTED]
    return rows, {frozenset((original, copy)) for original, copy, _ in PLANTED}


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",", header: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header or HEADER, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path
