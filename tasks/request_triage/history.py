"""Which columns of a ticket export hold what: a header matched by name whatever its case, and
the columns of a routed history that hold the queue people chose and the priority they gave.
Apart from reading the file, so the command line can name them in its help without loading the
readers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opsgate import InputError
from tasks.request_triage.models import InboundRequest

# A routed history's columns for the queue people chose and the priority they gave, where the
# command is not told: what helpdesk and intent-classification exports call them.
QUEUE_COLUMNS = ("queue", "category", "label", "intent", "department", "team")
PRIORITY_COLUMNS = ("priority", "urgency", "severity")


def column(headers: Iterable[object], names: Sequence[str]) -> str | None:
    """The first of ``names`` among ``headers`` (case and spaces aside), as the file spells it, or None."""
    spelt = {str(h).strip().casefold(): str(h) for h in headers}
    return next((spelt[n] for n in names if n in spelt), None)


def history_column(rows: Sequence[InboundRequest], given: str | None, names: Sequence[str], what: str) -> str | None:
    """The column of a ticket export that holds ``what``: the one named ``given`` (case and
    spaces aside), else the first of ``names`` the rows have; None where none of ``names`` is
    there. A column named and not there is an error that lists the ones there are."""
    headers = list(dict.fromkeys(key for row in rows for key in row.context))
    if given is None:
        return column(headers, names)
    found = column(headers, [given.strip().casefold()])
    if found is None:
        raise InputError(
            f"no {given!r} column for {what}: the file's columns are "
            + (", ".join(repr(h) for h in headers) or "none beside the text")
        )
    return found
