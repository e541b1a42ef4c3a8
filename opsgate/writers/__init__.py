"""The kinds of write the executor knows. A new kind of write is a deliberate platform change:
a writer here (apply + undo, in the caller's transaction) and its tool names for policies."""

from __future__ import annotations

from opsgate.writers.base import Writer
from opsgate.writers.payables import PayablesPost
from opsgate.writers.records import RecordsMerge
from opsgate.writers.reports import ReportsPublish

WRITERS: dict[str, Writer] = {writer.tool: writer for writer in (PayablesPost(), RecordsMerge(), ReportsPublish())}
UNDO_TOOLS: dict[str, Writer] = {writer.undo_tool: writer for writer in WRITERS.values()}
