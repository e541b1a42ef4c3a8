"""What out of scope means to training: the queue values a team's history marks its requests
routed nowhere with (spam, mail for another desk), which the classifier learns as out of scope,
never as a queue, and how many of the team's own requests the out-of-scope lines may escalate.
Kept apart from training so the command line can name them without loading it."""

from __future__ import annotations

import re

NOWHERE = ("out_of_scope", "oos", "none", "no_queue")  # unless `triage train --out-of-scope-label` names others

# The share of the team's own requests (held out) the two out-of-scope lines may send to a person
# together: each one costs a person a routing, while each request of no queue let through costs a
# wrong queue. A team picks its own (`opsgate triage train --escalate-at-most`); on banking77:
#   4 %: accuracy 0.922, 106 of 3,080 escalated, 30 of 30 other subjects and 29 % of ten unseen
#        queues' requests caught;  2 %: 0.934, 59, 30/30, 18 %;  1 %: 0.939, 36, 29/30, 13 %;
#   0.5 %: 0.941, 22, 29/30, 9 %.
ESCALATE_AT_MOST = 0.04


def nowhere_mark(value: str) -> str:
    """A queue value as the marks are compared: case-folded, spaces and hyphens read as
    underscores, so "Out of scope" and "out-of-scope" are ``out_of_scope``."""
    return re.sub(r"[\s-]+", "_", value.strip().casefold())
