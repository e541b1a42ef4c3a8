"""The seller's block at the top of a receipt or invoice: its name and its postal address.

Receipts and many invoices open with the same layout: an optional title ("CASH SALE"), the
seller's name (possibly over two or three lines, possibly followed by its registration
number), the street address over a few lines, then contact and tax lines (phone, fax, GST/VAT
number) or the document's title. No vendor is special-cased: the block is read from the shape
of its lines alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tasks.invoice_extraction.places import ends_with_country

# A business registration number standing alone on a line: "(123456-X)", "JM0123456-V", "CO. NO. 12345-A".
_REGISTRATION = re.compile(
    r"^[(<]?\s*[A-Z]{0,3}\d{5,12}(?:-?[A-Z])?\s*[)>]?$|"
    r"^\(?\s*(?:(?:co(?:mpany)?\.?\s*(?:reg(?:istration)?\.?\s*)?(?:no|number)\.?|roc\s*no\.?|reg\.?\s*no\.?)\s*[:.]?\s*)?"
    r"[(<]?\s*[A-Z]{0,3}\s*\d[\d\s]{2,11}\s*-?\s*[A-Z]\s*[)>]?\s*\)?$"
    r"|^\(?\s*(?:co(?:mpany)?\.?\s*(?:reg(?:istration)?\.?\s*)?(?:no|number)|roc\s*no|reg\.?\s*no|business\s*reg)\b",
    re.IGNORECASE,
)
# Lines beside the name and address: tax and registration numbers, the date, a site code.
_ASIDE = re.compile(
    r"^\W*(?:gst|sst|vat|tax)\b(?!\s*invoice)|^\W*(?:https?:|www\.|e-?mail\b)|^[^A-Za-z]*$|^\S+@\S+$|\.com(?:\.\w\w)?\W*$"
    r"|^\W*(?:co|company|br|brn|business|roc)\b\.?\s*[-.:]?\s*(?:r\w{2}\b|no\b|number)|^\W*no\.?\s*\d{4,}-?[A-Z]\W*$"
    r"|^\W*site\s*[:#]?\s*\d|^.*?(?<![\w])(?:gst|sst|vat)\s*(?:reg\w*\.?\s*)?(?:no|id)\b\s*\.?\s*[:.]?\s*\d",
    re.IGNORECASE,
)
_DATE_TIME = re.compile(
    r"^\W*\d{1,4}[\s/.-]+(?:\d{1,2}|[A-Za-z]{3,9})[\s/.-]+\d{2,4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AP]M)?)?\W*$",
    re.IGNORECASE,
)
# Lines that close the head block: contact details, tax numbers, titles and transaction labels.
_STOP = re.compile(
    r"^\W*(?:tel\b|tel[\s./:]|tei\b|telephone|phone|ph\b|h/?p\b|hp\s*:|mobile|fax|e-?mail|website|http|www\.|whatsapp"
    r"|\(?\s*gst|\(?\s*sst|\(?\s*vat\b|tax\s*(?:id|no|reg)|(?:simplified\s+|full\s+)?tax\s*invoice|invoice|-invoice"
    r"|(?:official\s+|cash\s+|duplicate\s+)?receipt|cash\s*(?:sale|bill)|bill\b|cashier|date\b|time\b|table\b|order\b"
    r"|doc(?:ument)?\s*no|slip|carry\s*out|counter|terminal|site\s*:|site\s*\d|station\b|pos\b|trans\b|member|customer"
    r"|\*+|-{3,}|={3,})",
    re.IGNORECASE,
)
_TITLE = re.compile(
    r"^\W*(?:(?:simplified\s+|full\s+)?tax\s*invoice|invoice|(?:official\s+|cash\s+)?receipt|cash\s*(?:sale|bill)|"
    r"welcome|selamat\s+datang)\W*$",
    re.IGNORECASE,
)
# A phone number on its own: "03-1234 5678", "+603-12345678", "012-3456789".
_PHONE_ONLY = re.compile(r"^\+?\(?\d{2,4}\)?\s*-?\s*\d{3,4}\s*-?\s*\d{3,5}(?:\s*/\s*\d+)?\W*$")
# A contact line under a label of its own: "CARELINE : 1800 88 1231", "OUTLET:03-80626265".
_LABELLED_PHONE = re.compile(r"^[A-Za-z][A-Za-z ./]{1,24}\s*:\s*\+?\(?\d[\d\s()-]{6,}\d(?:\s|$)")
# Words that mark a business name: legal forms first, then trade words.
_LEGAL_FORM = re.compile(
    r"(?<![\w])(?:sdn\.?\s*bhd|bhd|s/b|berhad|gmbh|ag|kg|ltd|limited|llc|inc|corp|corporation|plc|sarl|s\.?a\.?s|b\.?v"
    r"|pte|pty|co\.?\s*\(m\))(?![\w])\.?",
    re.IGNORECASE,
)
_ENDS_LEGAL = re.compile(_LEGAL_FORM.pattern + r"\W*$", re.IGNORECASE)
_TRADE_WORD = re.compile(
    r"(?<![\w])(?:enterprise|trading|traders?|holdings|hardware|restaurant|restoran|cafe|café|bakery|kitchen|bistro"
    r"|stationery|books?|bookstore|mart|market|minimarket|supermarket|pasaraya|store|shop|pharmacy|farmasi|clinic"
    r"|perniagaan|syarikat|kedai|marketing|services|industries|electrical|motor|station|hotel|food|company)(?![\w])",
    re.IGNORECASE,
)
# The owner's line under a brand: "OWNED BY: X SDN BHD", "DIMILIKI OLEH X".
_OWNED_BY = re.compile(r"^\W*(?:own(?:ed)?\s*by|owner\s*by|dimiliki(?:\s*oleh)?|operated\s*by)\b", re.IGNORECASE)
_LABEL_PREFIX = re.compile(r"^[^:\d]{2,25}:\s*(?=\S)")
_TRAILING_REGISTRATION = re.compile(
    r"\s*[\(\[<]?\s*(?:co\.?\s*(?:reg\.?\s*)?no\.?\s*[:.]?\s*)?[A-Z]{0,3}\d[\d\s]{3,11}-?\s*[A-Z]{0,3}\s*[\)\]>]?"
    r"(?:\s*\([A-Z0-9]{2,4}\))?\s*$",
    re.IGNORECASE,
)
_LEADING_CODE = re.compile(r"^\s*#\s*\d+\s+")
# Courtesy lines some receipts print above the name.
_NOTICE = re.compile(
    r"\b(?:thank\s*you|tq\s+for|terima\s*kasih|goods\s*sold|returnable|refundable|please|feedback|complaint|redeem|voucher|welcome)\b",
    re.IGNORECASE,
)
# A five-digit postcode; not a lot or house number ("LOT 34817").
_POSTCODE = re.compile(
    r"(?<![\d-])(?<!lot )(?<!lot)(?<!pt )(?<!ptd )(?<!no )(?<!no\.)(?<!no\. )\d{5}(?![\d-])", re.IGNORECASE
)
_ENDS_POSTCODE = re.compile(_POSTCODE.pattern + r"\W*$", re.IGNORECASE)
_BRACKETED = re.compile(r"^\s*[(<\[].*[)>\]]\W*$")  # "(TONYMOLY SHOP (95874))": a remark, not a street
_ENDS_LABEL = re.compile(r"(?<![\w])(?:number|no\.?)\s*:?\s*$", re.IGNORECASE)  # "PREPAY CHIT NUMBER"
_INLINE_CONTACT = re.compile(r"[\s,;]*\b(?:tel|fax|phone|h/p|hp|mobile|e-?mail)\b.*$", re.IGNORECASE)
_JOINS_NEXT = re.compile(r"(?:[&,\-(]|\band|\bof)\s*$", re.IGNORECASE)
_CONTINUES_PREVIOUS = re.compile(
    r"^\s*(?:&|and\b|\(|co\.|sdn|bhd|s/b|berhad|enterprise|trading|holdings|hardware|house|restaurant|electrical"
    r"|stationery|marketing|services|industries|distribut\w*)",
    re.IGNORECASE,
)
_ADDRESS_WORD = re.compile(
    r"(?<![\w])(?:no\.?|lot|jalan|jln|lorong|taman|tmn|street|st\.|road|rd\.?|avenue|ave|lane|blvd|floor|level|block|blok"
    r"|unit|suite|plaza|mall|centre|center|kompleks|complex|bandar|kampung|kg\.?|seksyen|section|batu|km|pusat"
    r"|strasse|straße|str\.|rue|avenue|chemin|weg|straat|platz)(?![\w])",
    re.IGNORECASE,
)
_MAX_HEAD = 14


@dataclass(frozen=True)
class Header:
    """The seller's name and address found at the top, and how sure the reading is (0..1)."""

    name: str | None
    address: str | None
    confidence: float


def read_header(lines: Sequence[str]) -> Header:
    """The seller's name and address from the first lines of a document (blank lines ignored)."""
    head = [s.strip() for s in lines[:40] if s.strip()][:_MAX_HEAD]
    kinds = [_kind(s) for s in head]
    start = 0
    while start < len(head) and kinds[start] != "text":
        start += 1  # a title, a date or a stray code above the name
    end = start
    while end < len(head) and kinds[end] in ("text", "aside"):
        end += 1
    texts = [i for i in range(start, end) if kinds[i] == "text"]
    if not texts:
        return Header(None, None, 0.0)

    first, last = _name_lines(head, kinds, texts)
    name = _clean_name(" ".join(head[i] for i in range(first, last + 1) if kinds[i] == "text"))
    strong = bool(_LEGAL_FORM.search(name) or _TRADE_WORD.search(name))

    address_lines = _address_lines(head, kinds, last + 1, end)
    address = ", ".join(s.strip(" ,") for s in address_lines) or None
    confidence = 0.75 if strong else 0.6
    return Header(name or None, address, confidence if address else confidence - 0.1)


def _address_lines(head: Sequence[str], kinds: Sequence[str], start: int, end: int) -> list[str]:
    """The street address under the name: from the first line that reads as one to the country,
    the next aside, or what after the postcode is plainly not an address (a business name, a label)."""
    lines: list[str] = []
    postcode_seen = False
    for i in range(start, end):
        if kinds[i] == "aside":
            if lines:
                break
            continue
        if not lines and (
            _LEGAL_FORM.search(head[i])
            or _BRACKETED.match(head[i])
            or (
                not looks_like_address(head[i])
                and any(looks_like_address(head[j]) for j in range(i + 1, end) if kinds[j] == "text")
            )
        ):
            continue  # a branch, brand or company line between the name and the street
        if postcode_seen and (
            (len(head[i].split()) > 4 and not _ENDS_POSTCODE.search(lines[-1]))  # unless its town follows
            or (not re.search(r"\d", head[i]) and (_LEGAL_FORM.search(head[i]) or _TRADE_WORD.search(head[i])))
        ):
            break
        if lines and _ENDS_LABEL.search(head[i]):
            break
        line = _INLINE_CONTACT.sub("", head[i])
        if not line:
            break
        lines.append(line)
        postcode_seen = postcode_seen or bool(_POSTCODE.search(head[i]))
        if ends_with_country(line):
            break  # the country closes an address; an outlet's name or a till code may follow
    return lines


def _kind(line: str) -> str:
    if _TITLE.match(line) or _NOTICE.search(line):
        return "title"
    if _REGISTRATION.match(line) or _ASIDE.match(line) or _DATE_TIME.match(line):
        return "aside"
    if _PHONE_ONLY.match(line) or _STOP.match(line) or _LABELLED_PHONE.match(line):
        return "stop"
    return "text"


def _name_lines(head: Sequence[str], kinds: Sequence[str], texts: Sequence[int]) -> tuple[int, int]:
    """The first and last line of the seller's name.

    A line right above a registration number ("(123456-X)") is the name's last line, whatever
    stands above it (a stamp, a cashier's name); else a line with a legal form ("SDN BHD", "GmbH")
    ends the name; else a line with a trade word ("ENTERPRISE", "RESTAURANT") starts it; else the
    first line does. A name runs over several
    lines when a line ends in "&" or the next starts with a legal form or a trade word.
    """
    before_address = []
    for i in texts:
        if looks_like_address(head[i]) and before_address:
            break
        before_address.append(i)
    registered = next(
        (i - 1 for i in range(1, len(head)) if i - 1 in before_address and _REGISTRATION.match(head[i])), None
    )
    if registered is not None:  # a company's registration number stands right under its name
        first = registered
        if first - 1 in before_address and _branch_below(head[first - 1], head[first]):
            first = registered = first - 1
        while first - 1 in before_address and (
            _joined(head[first - 1], head[first]) or _TRADE_WORD.search(head[first - 1])
        ):
            first -= (
                1  # a line ending mid-name, or a business word above ("LEMON TREE RESTAURANT" / "JTJ FOODS SDN BHD")
            )
        return first, registered
    legal = [i for i in before_address if _LEGAL_FORM.search(head[i]) and not looks_like_address(head[i])]
    if legal:
        first = last = legal[-1]
    else:
        trade = [i for i in before_address if _TRADE_WORD.search(head[i]) and not looks_like_address(head[i])]
        return (before_address[0], before_address[-1]) if trade else (before_address[0], before_address[0])
    short_form = len(_LEGAL_FORM.split(head[first])[0].split()) <= 1
    while (
        first - 1 in before_address
        and not _OWNED_BY.match(head[first])
        and (short_form or _joined(head[first - 1], head[first]))
    ):
        first -= 1
        short_form = False
    while last + 1 in before_address and _joined(head[last], head[last + 1]):
        if _branch_below(head[last], head[last + 1]):
            break
        last += 1
    return first, last


def _joined(upper: str, lower: str) -> bool:
    """Whether ``lower`` goes on with the name ``upper`` began: "&" or an open bracket at the end, a legal form next."""
    return bool(_JOINS_NEXT.search(upper) or _CONTINUES_PREVIOUS.match(lower) or upper.count("(") > upper.count(")"))


def _branch_below(upper: str, lower: str) -> bool:
    """ "X SDN BHD" over "(SUBANG JASA)": a branch under a complete legal name, not part of the name."""
    return bool(_ENDS_LEGAL.search(upper)) and lower.startswith("(")


def looks_like_address(line: str) -> bool:
    return bool(
        re.search(r"\d", line) and (_ADDRESS_WORD.search(line) or _POSTCODE.search(line) or "," in line)
    ) or bool(_POSTCODE.search(line))


def _clean_name(name: str) -> str:
    name = _LABEL_PREFIX.sub("", name.strip()) if not _LEGAL_FORM.fullmatch(name.strip()) else name
    name = _TRAILING_REGISTRATION.sub("", _LEADING_CODE.sub("", name))
    return re.sub(r"\s+", " ", name).strip(" ,;:-")
