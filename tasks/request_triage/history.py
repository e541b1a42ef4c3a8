"""Which columns of a routed history (a ticket or intent export) hold the queue people chose
and the priority they gave. Apart from reading the file, so the command line can name them in
its help without loading the readers."""

from __future__ import annotations

from collections.abc import Sequence

from opsgate import InputError
from tasks.request_triage.models import InboundRequest

# A routed history's columns for the queue people chose and the priority they gave, where the
# command is not told: what helpdesk and intent-classification exports call them.
QUEUE_COLUMNS = ("queue", "category", "label", "intent", "department", "team")
PRIORITY_COLUMNS = ("priority", "urgency", "severity")


def history_column(rows: Sequence[InboundRequest], given: str | None, names: Sequence[str], what: str) -> str | None:
    """The column of a ticket export that holds ``what``: the one named ``given`` (case and
    spaces aside), else the first of ``names`` the rows have; None where none of ``names`` is
    there. A column named and not there is an error that lists the ones there are."""
    headers: dict[str, str] = {}
    for row in rows:
        for key in row.context:
            headers.setdefault(key.strip().casefold(), key)
    if given is None:
        return next((headers[n] for n in names if n in headers), None)
    if given.strip().casefold() not in headers:
        raise InputError(
            f"no {given!r} column for {what}: the file's columns are "
            + (", ".join(repr(h) for h in headers.values()) or "none beside the text")
        )
    return headers[given.strip().casefold()]
