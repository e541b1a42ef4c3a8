"""One spelling per value, so that comparison measures real differences, not formatting.

Every normaliser takes and returns a whole column of Arrow strings (regular expressions run in
RE2, word replacement through Arrow's list kernels), because a million records through a
per-value Python function would take longer than the whole comparison. An empty result means
"missing": it is never compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tasks.duplicate_flagging.fields import Kind

# Legal forms carry no identity: "Acme Ltd" and "ACME Limited" are one company.
LEGAL_FORMS = (
    "incorporated inc corporation corp company co limited ltd llc l l c llp lp plc gmbh mbh ag kg ohg ug "
    "bv b v nv n v sa s a sarl sas srl spa ab as oy pty pte sdn bhd berhad kk the and"
).split()

# Address words to one short form each (US/UK usage): "Street" and "St." compare equal.
ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "boulevard": "blvd",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "crescent": "cres",
    "circle": "cir",
    "mount": "mt",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
}
# A flat, floor or suite is part of the postal address but not of the building: dropped.
_ADDRESS_UNIT = r"\b(?:apt|apartment|unit|suite|ste|room|rm|floor|fl|flr|bldg|building)\b\s*[a-z0-9-]*|\b\w+\s+floor\b"


def text(column: pd.Series) -> pd.Series:
    """Arrow-backed strings, empty for missing: every later step stays in Arrow's C++ kernels."""
    return column.astype("string[pyarrow]").fillna("")


def fold(column: pd.Series) -> pd.Series:
    """Lower case, accents dropped, punctuation to single spaces."""
    plain = text(column).str.normalize("NFKD").str.replace(r"\p{Mn}+", "", regex=True)
    return plain.str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()


def map_words(column: pd.Series, mapping: Mapping[str, str]) -> pd.Series:
    """Replace whole words (space-separated) by ``mapping``; a word mapped to "" is dropped."""
    values = _arrow(column)
    words = pc.split_pattern(values, " ")
    flat = words.flatten()
    found = pc.index_in(flat, value_set=pa.array(list(mapping), type=pa.string()))
    replaced = pc.if_else(pc.is_null(found), flat, pc.take(pa.array(list(mapping.values()), type=pa.string()), found))
    joined = pc.binary_join(pa.ListArray.from_arrays(words.offsets, replaced), " ")
    return rewrite(_series(joined, column), " +", " ").str.strip()  # folded text: spaces are the only blanks


def name(column: pd.Series) -> pd.Series:
    return fold(column)


def organisation(column: pd.Series) -> pd.Series:
    folded = fold(text(column).str.replace("&", " and ", regex=False))
    return map_words(folded, dict.fromkeys(LEGAL_FORMS, ""))


def address(column: pd.Series) -> pd.Series:
    # RE2 through ``rewrite``: pandas hands patterns with \s or \b to Python's re, one call per value.
    folded = rewrite(fold(rewrite(text(column), r"#\s*\w+", " ")), _ADDRESS_UNIT, " ")
    return map_words(folded, ADDRESS_WORDS)


def _arrow(column: pd.Series) -> pa.Array:
    """One contiguous Arrow array: list kernels (split, offsets) need it, and a kernel's result may come in chunks."""
    values = pa.array(text(column).array, type=pa.string())
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _series(values: pa.Array | pa.ChunkedArray, like: pd.Series) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(values), index=like.index)


def leading_match(column: pd.Series, pattern: str) -> pd.Series:
    """The text matching ``pattern`` at the start of each value, else "" (Arrow's RE2 kernel, not Python's re)."""
    found = pc.extract_regex(_arrow(column), rf"^(?P<match>{pattern})")
    return _series(pc.fill_null(pc.struct_field(found, "match"), ""), column)


def rewrite(column: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """A regular-expression replacement with groups (``\\1``) in RE2: pandas would fall back to Python's re."""
    return _series(pc.replace_substring_regex(_arrow(column), pattern, replacement), column)


def first_word(column: pd.Series) -> pd.Series:
    return _series(pc.replace_substring_regex(_arrow(column), r"\s.*$", ""), column)


def digits(column: pd.Series) -> pd.Series:
    return text(column).str.replace(r"\D+", "", regex=True)


def phone(column: pd.Series) -> pd.Series:
    """Digits only, a leading 00 or + country prefix kept as digits; compared on the last digits."""
    return digits(column)


def email(column: pd.Series) -> pd.Series:
    """Lower case; for Gmail the dots and +tags of the local part are not part of the address."""
    address = text(column).str.strip().str.lower()
    gmail = address.str.contains(r"@(?:gmail|googlemail)\.com$", regex=True)
    local = address.str.replace(r"[@+].*$", "", regex=True)
    domain = address.str.replace(r"^[^@]*", "", regex=True)
    canonical = local.str.replace(".", "", regex=False) + domain
    return address.where(~gmail, canonical).where(address.str.contains("@", regex=False), "")


def postcode(column: pd.Series) -> pd.Series:
    """Upper case without spaces; a US ZIP+4 compares on its five-digit ZIP."""
    code = text(column).str.upper().str.replace(r"[^A-Z0-9]+", "", regex=True)
    return rewrite(code, r"^(\d{5})\d{4}$", r"\1")


def identifier(column: pd.Series) -> pd.Series:
    return text(column).str.upper().str.replace(r"[^A-Z0-9]+", "", regex=True)


def date(column: pd.Series) -> pd.Series:
    """``YYYYMMDD``; ISO and compact forms are read exactly, anything else day-first by dateutil."""
    written = text(column).str.strip()
    compact = rewrite(written, r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ].*)?$", r"\1\2\3")
    done = compact.str.fullmatch(r"\d{8}")
    rest = written[~done & (written != "")]
    if len(rest):
        parsed = pd.to_datetime(rest.astype(object), errors="coerce", dayfirst=True, format="mixed")
        compact.loc[rest.index] = parsed.dt.strftime("%Y%m%d").fillna("").astype("string[pyarrow]")
    return compact.where(compact.str.fullmatch(r"\d{8}"), "")


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


# Whole values that say a value is missing: exports write them where the field was empty. ("NA" is left
# alone: it is also a surname and a code.)
_PLACEHOLDER = r"(?i)^\s*(?:null|none|nan|n/a|unknown|not known|-+|\?+)\s*$"


def normalise(column: pd.Series, kind: Kind) -> pd.Series:
    """The kind's normaliser, after placeholders for "missing" are made empty: missing counts neither way."""
    return NORMALISERS[kind](rewrite(text(column), _PLACEHOLDER, "")).fillna("")
