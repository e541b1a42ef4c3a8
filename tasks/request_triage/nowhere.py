"""What out of scope means to training: the queue values a team's history marks its requests
routed nowhere with (spam, mail for another desk), which the classifier learns as out of scope,
never as a queue, and how many of the team's own requests the out-of-scope lines may escalate.
Kept apart from training so the command line can name them without loading it."""

from __future__ import annotations

import re

NOWHERE = ("out_of_scope", "oos", "none", "no_queue")  # unless `triage train --out-of-scope-label` names others

# The share of the team's own requests (held out) the two out-of-scope lines may send to a person
# together: each one costs a person a routing from scratch, while a request of no queue let
# through is proposed in the nearest queue, most often with a confidence that takes it to a person
# at the gate anyway. A team picks its own (`opsgate triage train --escalate-at-most`); banking77:
#   0.5 %: accuracy 0.941, 22 of 3,080 escalated, 29 of 30 requests about other subjects and 9 % of
#          ten unseen queues' requests caught; ten per queue: 0.855;
#   1 %: 0.939, 36, 29/30, 13 %;  2 %: 0.934, 59, 30/30, 18 %;
#   4 % (the default until 2026-12-07): 0.922, 106, 30/30, 29 %; ten per queue: 0.840.
ESCALATE_AT_MOST = 0.005
# A line is drawn from the team's requests held out, and 0.5 % of a small history is less than one
# request: no line at all. Unless the team says otherwise, the lines may escalate this many of its
# requests where that is the larger share (a history of fewer than 400).
AT_LEAST = 2


def escalation_share(routed: int, given: float | None = None) -> float:
    """The share of ``routed`` requests the out-of-scope lines may escalate: the team's own
    (``given``), else ``ESCALATE_AT_MOST`` or ``AT_LEAST`` of them, whichever is more (at most half)."""
    if given is not None:
        return given
    return min(0.5, max(ESCALATE_AT_MOST, AT_LEAST / max(routed, 1)))


def nowhere_mark(value: str) -> str:
    """A queue value as the marks are compared: case-folded, spaces and hyphens read as
    underscores, so "Out of scope" and "out-of-scope" are ``out_of_scope``."""
    return re.sub(r"[\s-]+", "_", value.strip().casefold())
