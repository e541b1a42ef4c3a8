"""The due date from payment terms: "zahlbar innerhalb 30 Tagen", "net 30", "à 30 jours fin de mois".

Many invoices print no due date, only the terms. The terms are a clause of a sentence, often
beside a discount's clause ("Zahlbar innerhalb 30 Tagen netto bis 04.04.2018, 3% Skonto
innerhalb 10 Tagen bis 15.03.2018"), so a line is read clause by clause and a clause about a cash
discount never gives the due date. A clause names its date ("... bis 04.04.2018", "payable by
...") or a number of days after the invoice date, the end of that month when it says so.

The words are the terms' own in English, German, French, Dutch, Italian and Spanish: a clause is
about payment when it names paying or the net amount, and about a discount when it names one.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from datetime import date, timedelta

_PAYMENT = re.compile(
    r"(?<![\w])(?:pay\w*|net|due|terms?|zahl\w*|netto|f[äa]llig\w*|ziel|paie\w*|r[èe]gl\w*|[ée]ch[ée]ance|solde|balance"
    r"|betal\w*|pagamento|pagar\w*|pago|scadenza|vencimiento|neto)(?![\w])",
    re.IGNORECASE,
)
_DISCOUNT = re.compile(r"skonto|discount|escompte|korting|sconto|descuento|rabatt|remise|abzug\s*von", re.IGNORECASE)
# "30 Tage(n)", "30 days", "30 jours", "30 dagen", "30 giorni", "30 gg", "30 días"; "net 30" has no unit.
_DAYS = re.compile(
    r"(?<![\d.,])(?P<days>\d{1,3})\s*(?:-\s*)?(?:kalender)?(?:tage?n?|days?|jours?|j\b|dagen|giorni|gg\.?|d[ií]as)(?![\w])"
    r"|(?<![\w])(?:net|netto|neto)\s*(?P<net>\d{1,3})(?![\d.,/])",
    re.IGNORECASE,
)
_END_OF_MONTH = re.compile(
    r"fin\s*de\s*mois|end\s*of\s*(?:the\s*)?month|\beom\b|monatsende|ende\s*des\s*monats|einde\s*(?:van\s*de\s*)?maand"
    r"|fine\s*mese|f\.?\s*m\.|fin\s*de\s*mes",
    re.IGNORECASE,
)
# Before a date, the words that make it the last day to pay.
_BY_DATE = re.compile(
    r"(?<![\w])(?:bis(?:\s*zum)?|until|by|before|avant\s*le|jusqu[’']?au|v[óo]{1,2}r|uiterlijk|entro\s*il|hasta\s*el|antes\s*del?)\s*$",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[,;]\s+|\.\s+(?=[^\W\d_])|\s+(?:und|and|et|en|e|y)\s+(?=\d{1,3}\s*%)", re.IGNORECASE)

DateFinder = Callable[[str], list[tuple[int, date]]]


def due_from_terms(lines: Sequence[str], invoice_date: date | None, find_dates: DateFinder) -> tuple[date, str] | None:
    """The due date the payment terms give, and how: ``"date"`` (printed in the terms) or ``"days"``.

    ``find_dates`` reads the dates of a text with the document's day/month order. A printed date
    wins over a number of days; days need the invoice date. A due date before the invoice date is
    not one (a delivery period, an old reference), so it is not returned.
    """
    counted: date | None = None
    for clause in _clauses(lines):
        if _DISCOUNT.search(clause) or not _PAYMENT.search(clause):
            continue
        for pos, found in find_dates(clause):
            if _BY_DATE.search(clause[:pos]) and (invoice_date is None or found >= invoice_date):
                return found, "date"
        if counted is None and invoice_date is not None:
            m = _DAYS.search(clause)
            if m:
                counted = invoice_date + timedelta(days=int(m.group("days") or m.group("net")))
                if _END_OF_MONTH.search(clause):
                    counted = counted.replace(day=calendar.monthrange(counted.year, counted.month)[1])
    return (counted, "days") if counted is not None else None


def _clauses(lines: Sequence[str]) -> list[str]:
    """Clauses of the lines; a line starting in lower case continues the previous one's sentence
    ("30% advance payment," / "balance at 30 days")."""
    clauses: list[str] = []
    previous = ""  # the line before, when it did not end its sentence; only one line is carried, never the page
    for line in lines:
        text = " ".join(line.split())
        if not text:
            previous = ""
            continue
        joined = f"{previous} {text}" if previous and text[:1].islower() else text
        clauses.extend(c for c in _CLAUSE.split(joined) if c)
        previous = "" if re.search(r"[.:;!?]$", text) else text
    return clauses
