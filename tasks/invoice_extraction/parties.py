"""Who the parties are: the seller's and the customer's names, from headings, labels, a one-line
return address, or the company-looking lines at the top of the document."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tasks.invoice_extraction import label_patterns as L
from tasks.invoice_extraction.header import Header, looks_like_address
from tasks.invoice_extraction.label_search import (
    ALL_LABELS,
    COLUMN_START,
    GENERIC,
    GUESSED,
    LEADING_SEPARATORS,
    SPECIFIC,
    labelled,
)
from tasks.invoice_extraction.parsing import find_dates

# The parts of a one-line return address: "Name ● Street 1 ● 12345 Town", "Name - Street - F-84340 Town".
# OCR reads the bullets as "e", "o", "©", "+" or "*": a single such sign between spaces separates too.
_SENDER_SEPARATOR = re.compile(r"\s+[●•·|–—\-©®*+°eo]\s+")
_POSTCODE_PART = re.compile(r"(?:[A-Z]{1,2}-)?\d{4,5}\s+[^\W\d_]{2,}")
_TRAILING_LEGAL_FORM = re.compile(r"\s+(SARL|SAS|SASU|EURL|SA|SNC|SCI)\.?\s*$", re.IGNORECASE)
# "Nummer : 549910", "Globale Nummer: 4000001123452 (GTIN)", "USt-IdNr.: DE123": keyed lines of a block, not its name.
# A heading that carries nothing else, or a second heading after a slash ("Käufer/Leistungsempfänger:").
_HEADING_ALONE = re.compile(r"^\s*(?:/\s*[^\W\d_][\w\s.-]{0,30})?:?\s*$")
_KEY_VALUE = re.compile(r"^[^\W\d_][^:]{0,30}:\s*\S")
_CONTACT = re.compile(r"@|www\.|https?:|^\W*(?:tel|fax|phone|telefon|e-?mail)\b", re.IGNORECASE)
# A name line without a legal form may continue on the next line with it ("MVM Musterhafter" / "Versicherungsverein a.G.").
_NAME_GOES_ON = re.compile(r"^(?!.*(?:gmbh|\bag\b|\bkg\b|ltd|inc|sarl|\bsa\b|\bbv\b)).*$", re.IGNORECASE)
_STATED_FORM = re.compile(r"(?<![\w])(?:SARL|SAS|SASU|EURL|SA|SNC|SCI)\s+au\s+capital", re.IGNORECASE)


def name_value(rest: str) -> str | None:
    """A party name: letters, not a number label ("Customer No"), not just another label."""
    if L.CUSTOMER_NOT_NAME.match(rest):
        return None
    if rest.lstrip().startswith("/"):
        return None  # the second half of a heading ("Käufer/Leistungsempfänger:"), not a name
    name = LEADING_SEPARATORS.sub("", rest).strip()
    name = re.split(r"\s{3,}|\t", name)[0].strip(" ,;")
    if len(re.findall(r"[^\W\d_]", name)) < 3 or L.TITLE_WORDS.match(name):
        return None
    if any(p.match(name) for p in (*L.CUSTOMER, *L.INVOICE_DATE, *L.INVOICE_NUMBER)):
        return None
    return name


def party_name(lines: Sequence[str], headings: Sequence[re.Pattern[str]]) -> tuple[str, float] | None:
    """The "Name:" line of a block under a party heading ("Verkäufer" / "Nummer: 5" / "Name: X GmbH")."""
    for i, line in enumerate(lines[:80]):
        for pattern in headings:
            m = pattern.search(line)
            if not m or not COLUMN_START.search(line[: m.start()]) or not L.PARTY_HEADING_END.match(line[m.end() :]):
                continue
            for below in lines[i + 1 : i + 8]:
                named = L.NAME_KEY.match(below)
                if named:
                    name = name_value(named.group("value"))
                    if name:
                        return _without_stated_legal_form(name, lines), SPECIFIC
                if L.VENDOR_LABEL.match(below) or any(p.match(below) for p in L.CUSTOMER):
                    break  # the next party's block
    return None


def party_block(lines: Sequence[str], headings: Sequence[re.Pattern[str]]) -> tuple[str, float] | None:
    """The name a party heading stands over, where the block names it without a "Name:" key.

    "Verkäufer:" / "Nummer : 549910" / "Lieferant GmbH" / "Lieferantenstraße 20": the heading
    opens its line and carries nothing else; below it, numbered keys ("Nummer : ...") are skipped,
    and the first lines that are neither keys nor address nor contact lines are the name. A second
    line belongs to the name only where the first cannot stand alone: a salutation ("Herrn" /
    "Max Mustermann") or a name whose legal form follows on the next line.
    """
    for i, line in enumerate(lines[:80]):
        stripped = line.strip()
        for pattern in headings:
            m = pattern.match(stripped)
            if not m or not _HEADING_ALONE.match(stripped[m.end() :]):
                continue
            name = _block_name(lines[i + 1 : i + 10])
            if name:
                return _without_stated_legal_form(name, lines), GENERIC
    return None


def _block_name(block: Sequence[str]) -> str | None:
    names: list[str] = []
    for below in block:
        s = below.strip()
        if not s:
            if names and not (len(names) == 1 and L.SALUTATION.fullmatch(names[0])):
                break  # a blank line ends the name, except right after a salutation ("Herrn" / / "Max Mustermann")
            continue
        if _is_heading(s):
            break  # the next party's block
        if _KEY_VALUE.match(s) or _CONTACT.search(s):
            if names:
                break
            continue
        if looks_like_address(s) or not name_value(s):
            break
        names.append(re.split(r"\s{3,}|\t", s)[0].strip(" ,;"))
        if len(names) == 2 or not (L.SALUTATION.fullmatch(names[0]) or _NAME_GOES_ON.search(names[0])):
            break
    if len(names) == 2 and not L.SALUTATION.fullmatch(names[0]) and not L.COMPANY_SUFFIX.search(names[1]):
        names.pop()
    return " ".join(names) or None


def _is_heading(line: str) -> bool:
    return any(
        (m := p.match(line)) is not None and _HEADING_ALONE.match(line[m.end() :]) is not None
        for p in (L.VENDOR_LABEL, *L.CUSTOMER)
    )


def sender_line(lines: Sequence[str]) -> tuple[tuple[str, float], tuple[str, float] | None] | None:
    """The one-line return address of a letter ("Seller GmbH • Street 1 • 12345 Town").

    It names the seller in its first part; in an address window the recipient's name is the
    next line.
    """
    for i, line in enumerate(lines[:40]):
        parts = [p.strip() for p in _SENDER_SEPARATOR.split(line)]
        if len(parts) < 3 or ":" in line or not any(_POSTCODE_PART.match(p) for p in parts[1:]):
            continue
        name = name_value(parts[0])
        if not name or re.search(r"\d", name) or not re.search(r"\d", " ".join(parts[1:])):
            continue
        recipient = None
        following = next((s for s in lines[i + 1 : i + 3] if s), "")
        if following and not re.search(r"\d|@|www\.|:", following) and len(following.split()) <= 6:
            candidate = name_value(following)
            if candidate and not any(p.search(following) for group in ALL_LABELS for p in group):
                recipient = (candidate, GUESSED + 0.1)
        return (_without_stated_legal_form(name, lines), GENERIC), recipient
    return None


def _without_stated_legal_form(name: str, lines: Sequence[str]) -> str:
    """ "Au bon moulin SARL" is "Au bon moulin" where the legal notice states "SARL au capital de …":
    the notice carries the legal form, the name is the trading name before it."""
    m = _TRAILING_LEGAL_FORM.search(name)
    if m and any(_STATED_FORM.search(line) and m.group(1).upper() in line.upper() for line in lines):
        return name[: m.start()].strip(" ,-")
    return name


def vendor(lines: Sequence[str], header: Header, sender: tuple[str, float] | None = None) -> tuple[str, float] | None:
    """A "From:" label or a seller block's "Name:"; else a letter's return-address line; else the
    name atop the document; else the first company-looking line."""
    named = party_name(lines, [L.VENDOR_LABEL]) or party_block(lines, [L.VENDOR_LABEL])
    if named:
        return named
    by_label = labelled(lines[:40], [L.VENDOR_LABEL], name_value, name_value)
    if by_label and not by_label[0].startswith("/"):
        return by_label
    if sender:
        return sender
    if header.name and name_value(header.name):
        return header.name, header.confidence
    customer_block: set[int] = set()
    for i, line in enumerate(lines):
        if any(p.search(line) for p in L.CUSTOMER):
            customer_block.update(range(i, i + 4))
    head = [s for i, s in enumerate(lines[:25]) if s and i not in customer_block]
    for line in head:
        if L.COMPANY_SUFFIX.search(line) and name_value(line):
            return re.split(r"\s{3,}|\t", line)[0].strip(" ,;"), 0.6
    for line in head[:10]:
        if re.match(r"^\W*\d", line) or find_dates(line, True) or "@" in line or "www." in line.lower():
            continue
        name = name_value(line)
        if name and not any(p.search(line) for group in ALL_LABELS for p in group):
            return name, 0.4
    return None
