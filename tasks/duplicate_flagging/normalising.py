"""One spelling per value, so that comparison measures real differences, not formatting.

Every normaliser takes and returns a whole column (pandas string operations run in C over the
column), because a million records through a per-value Python function would take longer than
the whole comparison. An empty result means "missing": it is never compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd

from tasks.duplicate_flagging.fields import Kind

# Legal forms carry no identity: "Acme Ltd" and "ACME Limited" are one company.
LEGAL_FORMS = (
    "incorporated inc corporation corp company co limited ltd llc l l c llp lp plc gmbh mbh ag kg ohg ug "
    "bv b v nv n v sa s a sarl sas srl spa ab as oy pty pte sdn bhd berhad kk the and"
).split()

# Address words to one short form each (US/UK usage): "Street" and "St." compare equal.
ADDRESS_WORDS = {
    "street": "st", "str": "st", "avenue": "ave", "av": "ave", "boulevard": "blvd", "road": "rd",
    "drive": "dr", "lane": "ln", "court": "ct", "place": "pl", "square": "sq", "terrace": "ter",
    "highway": "hwy", "parkway": "pkwy", "crescent": "cres", "circle": "cir", "mount": "mt",
    "north": "n", "south": "s", "east": "e", "west": "w", "northeast": "ne", "northwest": "nw",
    "southeast": "se", "southwest": "sw", "first": "1st", "second": "2nd", "third": "3rd",
}
# A flat, floor or suite is part of the postal address but not of the building: dropped.
_ADDRESS_UNIT = re.compile(r"\b(?:apt|apartment|unit|suite|ste|room|rm|floor|fl|flr|bldg|building)\b\s*[a-z0-9-]*|\b\w+\s+floor\b")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(column: pd.Series) -> pd.Series:
    """Lower case, accents dropped, punctuation to single spaces."""
    text = column.astype("string").fillna("").str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    return text.str.lower().str.replace(_NON_ALNUM.pattern, " ", regex=True).str.strip()


def _drop_words(column: pd.Series, words: list[str]) -> pd.Series:
    pattern = r"\b(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")\b"
    return column.str.replace(pattern, " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()


def name(column: pd.Series) -> pd.Series:
    return fold(column).str.replace(r"\s+", " ", regex=True)


def organisation(column: pd.Series) -> pd.Series:
    folded = fold(column.astype("string").str.replace("&", " and ", regex=False))
    return _drop_words(folded, LEGAL_FORMS)


def address(column: pd.Series) -> pd.Series:
    folded = fold(column.astype("string").str.replace(r"#\s*\w+", " ", regex=True)).str.replace(_ADDRESS_UNIT.pattern, " ", regex=True)
    pattern = r"\b(?:" + "|".join(ADDRESS_WORDS) + r")\b"
    return folded.str.replace(pattern, lambda m: ADDRESS_WORDS[m.group(0)], regex=True).str.replace(r"\s+", " ", regex=True).str.strip()


def digits(column: pd.Series) -> pd.Series:
    return column.astype("string").fillna("").str.replace(r"\D+", "", regex=True)


def phone(column: pd.Series) -> pd.Series:
    """Digits only, a leading 00 or + country prefix kept as digits; compared on the last digits."""
    return digits(column)


def email(column: pd.Series) -> pd.Series:
    """Lower case; for Gmail the dots and +tags of the local part are not part of the address."""
    text = column.astype("string").fillna("").str.strip().str.lower()
    gmail = text.str.contains(r"@(?:gmail|googlemail)\.com$", regex=True)
    local = text.str.extract(r"^([^@+]*)", expand=False).fillna("")
    domain = text.str.extract(r"(@.*)$", expand=False).fillna("")
    canonical = local.str.replace(".", "", regex=False) + domain
    return text.where(~gmail, canonical).where(text.str.contains("@", regex=False), "")


def postcode(column: pd.Series) -> pd.Series:
    """Upper case without spaces; a US ZIP+4 compares on its five-digit ZIP."""
    text = column.astype("string").fillna("").str.upper().str.replace(r"[^A-Z0-9]+", "", regex=True)
    return text.str.replace(r"^(\d{5})\d{4}$", r"\1", regex=True)


def identifier(column: pd.Series) -> pd.Series:
    return column.astype("string").fillna("").str.upper().str.replace(r"[^A-Z0-9]+", "", regex=True)


def date(column: pd.Series) -> pd.Series:
    """``YYYYMMDD``; ISO and compact forms are read exactly, anything else day-first by dateutil."""
    text = column.astype("string").fillna("").str.strip()
    compact = text.str.replace(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ].*)?$", r"\1\2\3", regex=True)
    done = compact.str.fullmatch(r"\d{8}")
    rest = text[~done & (text != "")]
    if len(rest):
        parsed = pd.to_datetime(rest, errors="coerce", dayfirst=True, format="mixed")
        compact.loc[rest.index] = parsed.dt.strftime("%Y%m%d").fillna("")
    return compact.where(done | (text != ""), "").where(compact.str.fullmatch(r"\d{8}"), "")


NORMALISERS: dict[Kind, Callable[[pd.Series], pd.Series]] = {
    Kind.NAME: name,
    Kind.GIVEN_NAME: name,
    Kind.SURNAME: name,
    Kind.ORGANISATION: organisation,
    Kind.ADDRESS: address,
    Kind.HOUSE_NUMBER: identifier,
    Kind.CITY: name,
    Kind.POSTCODE: postcode,
    Kind.REGION: name,
    Kind.PHONE: phone,
    Kind.EMAIL: email,
    Kind.DATE: date,
    Kind.IDENTIFIER: identifier,
}


def normalise(column: pd.Series, kind: Kind) -> pd.Series:
    return NORMALISERS[kind](column).fillna("")
