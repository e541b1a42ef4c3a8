"""The queue values a team's history marks its requests routed nowhere with (spam, mail for
another desk): what the classifier learns as out of scope, never as a queue. Kept apart from
training so the command line can name them without loading it."""

from __future__ import annotations

import re

NOWHERE = ("out_of_scope", "oos", "none", "no_queue")  # unless `triage train --out-of-scope-label` names others


def nowhere_mark(value: str) -> str:
    """A queue value as the marks are compared: case-folded, spaces and hyphens read as
    underscores, so "Out of scope" and "out-of-scope" are ``out_of_scope``."""
    return re.sub(r"[\s-]+", "_", value.strip().casefold())
