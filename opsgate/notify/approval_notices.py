"""Telling people that a run waits for them: when it pauses, shortly before its deadline, and when
the deadline passes (then the owner, to whom the expired cases are escalated, is named).

The policy's `approvals.notify` names the channels. The reminder is audited even when no channel
is configured, so the log shows that the deadline was coming and who had been asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select

from opsgate.notify.channels import Message
from opsgate.notify.delivery import send
from opsgate.policy.runtime import Policy
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow

Notice = Literal["waiting", "reminder", "expired"]
GATE = "opsgate-gate"

_TITLES = {
    "waiting": "{count} proposals of {workflow} wait for approval",
    "reminder": "Reminder: {count} proposals of {workflow} still wait for approval",
    "expired": "{count} proposals of {workflow} expired without a decision",
}


def _text(notice: Notice, policy: Policy, count: int, deadline: datetime, link: str | None, review: str | None) -> str:
    prefect = f"({link}) " if link else ""
    where = (f"Decide on the review screen ({review}), open" if review else "Open") + (
        f" the run in the Prefect UI {prefect}and press Resume"
    )
    owner = f"{policy.owner.name} <{policy.owner.contact}>"
    if notice == "expired":
        return (
            f"Nobody decided by {deadline:%Y-%m-%d %H:%M} UTC. Nothing was written; the "
            f"cases are escalated to {owner} and a later run may propose them again."
        )
    return f"Decide by **{deadline:%Y-%m-%d %H:%M} UTC**. {where}, or run `opsgate approvals approve`. Owner: {owner}."


def reminded(run_id: str, deadline: datetime) -> bool:
    """Whether the run's channels were already reminded of this deadline (its `reminded` event)."""
    with transaction() as session:
        events = session.execute(
            select(AuditRow.data).where(AuditRow.run_id == run_id, AuditRow.event == str(AuditEvent.REMINDED))
        ).scalars()
        return any(isinstance(data, dict) and data.get("deadline") == deadline.isoformat() for data in events)


def announce(
    notice: Notice,
    policy: Policy,
    run_id: str,
    count: int,
    deadline: datetime,
    link: str | None,
    review: str | None = None,
) -> None:
    """Audit a reminder, and post the notice to the policy's approval channels: ``link`` is the
    run's page in the Prefect UI, ``review`` where it is decided on the review screen."""
    if notice == "reminder":
        with transaction() as session:
            audit.append(
                session,
                AuditEvent.REMINDED,
                workflow=policy.workflow,
                run_id=run_id,
                actor=GATE,
                data={
                    "waiting": count,
                    "deadline": deadline.isoformat(),
                    "channels": policy.approvals.notify,
                },
            )
    message = Message(
        event=f"approval.{notice}",
        title=_TITLES[notice].format(count=count, workflow=policy.workflow),
        text=_text(notice, policy, count, deadline, link, review),
        link=link,
        fields={"workflow": policy.workflow, "proposals": str(count), "deadline": f"{deadline:%Y-%m-%d %H:%M} UTC"},
        data={
            "workflow": policy.workflow,
            "run_id": run_id,
            "proposals": count,
            "deadline": deadline.isoformat(),
            "owner": policy.owner.contact,
            **({"review_url": review} if review else {}),
        },
    )
    send(policy, policy.approvals.notify, message, f"{policy.workflow}-{run_id}-{notice}", run_id)
