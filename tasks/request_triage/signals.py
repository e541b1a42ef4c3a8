"""What in a request's words says how urgent it is, and which sentences try to instruct the router.

A request is data, never instructions. A sentence that speaks to whoever routes it ("route me to
billing", "mark this urgent", "ignore your previous instructions") is set aside before the queue
and the priority are read: it can neither move the request to another queue nor raise its
priority, and the approver is told it was there.
"""

from __future__ import annotations

import re

NO_URGENCY = "no words of urgency"
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
# Verbs of routing or of changing the assistant's behaviour, addressed to the reader.
_TO_THE_ROUTER = re.compile(
    r"\b(?:route|forward|assign|escalate|classify|categori[sz]e|tag|label|mark|flag|set|put|move|send)\b"
    r"[^.!?\n]{0,60}\b(?:queue|team|department|billing|priority|urgent|high|critical|p1|category|label|tag|me|this|it)\b"
    r"|\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|rules?|policy|previous|above|system)\b"
    r"|\b(?:system prompt|you are now|act as|as an ai)\b",
    re.IGNORECASE,
)
_HIGH = re.compile(
    r"\b(?:urgent\w*|asap|immediately|emergency|right now|as soon as possible|fraud\w*|stolen|hacked|unauthori[sz]ed"
    r"|not authori[sz]ed|locked out|blocked|legal action|lawyer|complaint|dringend|sofort|betrug|gestohlen|urgence"
    r"|imm[ée]diatement|fraude|vol[ée]|urgente|inmediatamente|robad[ao])\b",
    re.IGNORECASE,
)
_LOW = re.compile(
    r"\b(?:no rush|no hurry|whenever|just curious|just wondering|fyi|for your information|out of curiosity"
    r"|keine eile|pas urgent|sin prisa)\b",
    re.IGNORECASE,
)


def to_the_router(text: str) -> list[str]:
    """The sentences that speak to whoever routes the request, as written."""
    return [s.strip() for s in _SENTENCES.split(text) if s.strip() and _TO_THE_ROUTER.search(s)]


def without_instructions(text: str) -> str:
    """The request with the sentences that instruct the router left out: what triage reads."""
    return "\n".join(s for s in _SENTENCES.split(text) if s.strip() and not _TO_THE_ROUTER.search(s))


def priority(text: str) -> tuple[str, list[str]]:
    """high, normal or low, with the words that made it so."""
    return said(text) or ("normal", [NO_URGENCY])


def said(text: str) -> tuple[str, list[str]] | None:
    """The level the request's own words give (high, or low), with them; None when they say nothing."""
    for level, words in (("high", _HIGH), ("low", _LOW)):
        found = list(dict.fromkeys(m.group(0).lower() for m in words.finditer(text)))
        if found:
            return level, [f"words like {', '.join(repr(w) for w in found[:3])}"]
    return None
