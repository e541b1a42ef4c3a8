"""Country names in the languages invoices are written in, from the CLDR data babel ships.

An address ends with its country more often than with anything else that can be recognised: a
line ending in "Malaysia", "Deutschland" or "France" closes the seller's address, and what follows
(an outlet's name, a till number) is not part of it. The names come from CLDR, not from a list
kept here, so every country counts in every language opsgate reads.
"""

from __future__ import annotations

import re
from functools import cache

from babel import Locale

# The CLDR locales of the languages invoices come in; regional ones where they spell months otherwise ("Jänner", "Sept").
LOCALES = ("en", "en_GB", "de", "de_AT", "fr", "nl", "it", "es", "ms")


@cache
def _country_pattern() -> re.Pattern[str]:
    names = {
        name
        for locale in LOCALES
        for code, name in Locale.parse(locale).territories.items()
        if len(code) == 2 and code.isalpha() and len(name) >= 4
    }
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{alternatives})\W*$", re.IGNORECASE)


def ends_with_country(line: str) -> bool:
    """Whether the line ends with a country's name ("56000 Kuala Lumpur, Malaysia.")."""
    return bool(_country_pattern().search(line.strip()))
