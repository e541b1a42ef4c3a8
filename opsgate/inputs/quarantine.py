"""Moving aside inputs that keep failing, before a run reads them again.

A file that kills or stalls its reader every time stays where it is (nothing else takes it out of
an inbox), so without this every scheduled run would meet it again. A workflow asks here which of
its inputs may still be read: a source whose cases failed as often as the policy's
``escalation.quarantine.after`` since it was last put aside is moved into ``folder`` (a hidden
folder beside the inputs, so listings skip it) and the move is audited (``quarantined``) with the
count and the last error. A person who fixes the file puts it back; its count starts again then.

The file is moved first and audited after, so a crash in between never loses it: the next call
audits any file it finds in the folder that no ``quarantined`` row names. A case counts as failed
when it ended ``failed``, or was escalated because it kept failing (``repeated_failure``).
Nothing here knows what the inputs are: a source is a path whose cases are stored under its name.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from opsgate.governance.runs import AGENT, Run
from opsgate.models import EscalationReason, Status
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, ProposalRow, as_utc

logger = logging.getLogger(__name__)

FOLDER = ".quarantine"


def quarantine(run: Run, sources: Sequence[Path], folder: Path) -> list[Path]:
    """The ``sources`` still to read, in order; those failed often enough are moved into ``folder``
    and audited first. Without the policy rule every source is read."""
    rule = run.policy.escalation.quarantine
    if rule is None:
        return list(sources)
    with transaction() as session:
        audited = session.execute(
            select(AuditRow.data, AuditRow.at).where(
                AuditRow.workflow == run.workflow, AuditRow.event == str(AuditEvent.QUARANTINED)
            )
        ).all()
    _audit_unrecorded(run, folder, {str(data.get("moved_to")) for data, _ in audited})
    since: dict[str, datetime] = {}
    for data, at in audited:  # the newest quarantine of each source: failures before it are forgiven
        source = data.get("source")
        if source is not None and (source not in since or as_utc(at) > since[source]):
            since[source] = as_utc(at)
    failures, last_error = _failures(run.workflow, [str(path) for path in sources], since)
    kept = []
    for path in sources:
        count = failures[str(path)]
        if count < rule.after:
            kept.append(path)
            continue
        moved_to = _move(path, folder)
        logger.warning("%s failed %d times: moved to %s", path, count, moved_to)
        _record(
            run,
            {
                "source": str(path),
                "moved_to": str(moved_to),
                "failures": count,
                "last_error": last_error.get(str(path), ""),
            },
        )
    return kept


def _failures(workflow: str, sources: list[str], since: dict[str, datetime]) -> tuple[Counter[str], dict[str, str]]:
    """Per source, its failed cases since it was last put aside, and the newest one's detail."""
    query = (
        select(
            ProposalRow.source, ProposalRow.status, ProposalRow.escalations, ProposalRow.detail, ProposalRow.created_at
        )
        .where(
            ProposalRow.workflow == workflow,
            ProposalRow.source.in_(sources),
            ProposalRow.status.in_([Status.FAILED, Status.ESCALATED]),
        )
        .order_by(ProposalRow.created_at)
    )
    counts: Counter[str] = Counter()
    last: dict[str, str] = {}
    with transaction() as session:
        for source, status, escalations, detail, created in session.execute(query):
            kept_failing = any(e.get("reason") == EscalationReason.REPEATED_FAILURE for e in escalations or [])
            if (status == Status.FAILED or kept_failing) and (source not in since or as_utc(created) > since[source]):
                counts[source] += 1
                last[source] = detail
    return counts, last


def _move(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` under its name, numbered when that name is taken already."""
    folder.mkdir(exist_ok=True)
    target, number = folder / path.name, 1
    while target.exists():
        target, number = folder / f"{path.stem}.{number}{path.suffix}", number + 1
    os.replace(path, target)
    return target


def _audit_unrecorded(run: Run, folder: Path, recorded: set[str]) -> None:
    """Audit files found in the folder that no ``quarantined`` row names (moved, then a crash)."""
    if not folder.is_dir():
        return
    for moved in sorted(p for p in folder.iterdir() if p.is_file() and str(p) not in recorded):
        _record(
            run,
            {
                "source": None,
                "moved_to": str(moved),
                "failures": None,
                "last_error": "",
                "found": "in the quarantine folder without an audit row",
            },
        )


def _record(run: Run, data: dict[str, object]) -> None:
    with transaction() as session:
        audit.append(session, AuditEvent.QUARANTINED, workflow=run.workflow, run_id=run.id, actor=AGENT, data=data)
