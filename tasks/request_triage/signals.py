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
# What speaks to whoever routes the request, in four shapes. Each needs the routing words together
# (a verb, what is moved, where to), never one of them alone: "send me a new card", "put the PIN
# in", "please disregard my previous e-mail" and "transfer money to my account" are requests.
_DESK = (
    r"(?:queue|team|department|dept|desk|group|billing|sales|support|finance|accounts|legal|management|manager"
    r"|supervisor|vip|tier\s*\d|level\s*\d)"
)
_MOVED = r"(?:me|this|it|(?:this|my|the)\s+(?:request|ticket|case|e-?mail|mail|message|query|issue|complaint))"
_TO_THE_ROUTER = re.compile(
    # routing: "route me to billing", "forward this to the finance team", "put this in the sales queue"
    rf"\b(?:route|re-?route|direct|redirect|assign|escalate|forward|transfer|send|move|put|pass|hand|give)\s+(?:{_MOVED}\s+)?"
    rf"(?:straight\s+|directly\s+|over\s+|on\s+)?(?:to|into|in|under)\s+(?:the\s+|a\s+|an\s+|your\s+)?"
    rf"(?:[\w-]+\s+){{0,2}}?{_DESK}\b"
    # priority: "mark this urgent", "flag it as P1", "set the priority to high", "prioritise this"
    r"|\b(?:mark|flag|tag|label|treat|classify)\s+(?:(?:this|it|me|(?:this|my|the)\s+\w+)\s+)?(?:as\s+)?(?:an?\s+)?"
    r"(?:urgent|critical|high[- ]priority|top[- ]priority|p[0-3]|priority)\b"
    r"|\b(?:set|change|raise|bump|make)\s+(?:the\s+|its\s+|my\s+|this\s+)?priority\b|\bprioriti[sz]e\s+(?:this|it|me|my)\b"
    # classing: "classify this request as a refund", "categorise it under complaints"
    r"|\b(?:classify|categori[sz]e|tag|label)\s+(?:this|it|me|(?:this|my|the)\s+\w+)\s+(?:as|under|with)\b"
    # the assistant's own instructions: "ignore all previous instructions", "you are now ..."
    r"|\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:your\s+|the\s+|these\s+|those\s+)?"
    r"(?:previous\s+|prior\s+|earlier\s+|above\s+|system\s+|original\s+)?(?:instructions?|rules|prompts?|guidelines)\b"
    r"|\b(?:ignore|disregard)\s+(?:everything|all)\s+(?:above|before)\b"
    r"|\b(?:system prompt|you are now|as an ai|new instructions)\b",
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
