"""The kinds of write the executor knows. A new kind of write is a deliberate platform change:
a writer here (apply + undo, in the caller's transaction) and its tool names for policies. Every
write's undo is an action too (``UNDOS``), proposed and approved like the write itself."""

from __future__ import annotations

from opsgate.writers.autonomy import AutonomyGrant
from opsgate.writers.base import Writer
from opsgate.writers.payables import PayablesPost
from opsgate.writers.records import RecordsMerge
from opsgate.writers.releases import InstructionRelease
from opsgate.writers.reports import ReportsPublish
from opsgate.writers.tickets import TicketsRoute
from opsgate.writers.undo import UndoWriter

WRITERS: dict[str, Writer] = {
    writer.tool: writer
    for writer in (
        PayablesPost(),
        RecordsMerge(),
        ReportsPublish(),
        TicketsRoute(),
        AutonomyGrant(),
        InstructionRelease(),
    )
}
UNDOS: dict[str, UndoWriter] = {writer.undo_tool: UndoWriter(writer) for writer in WRITERS.values()}


def action_writer(tool: str | None) -> Writer | None:
    """The writer of a proposed action: a write, or the undo of one."""
    return WRITERS.get(tool or "") or UNDOS.get(tool or "")
