"""Posting messages to a policy's channels, after the store has what they announce.

A webhook cannot join the store's transaction, so whatever a message announces (a published
report, a run waiting for approval) is committed first and posted afterwards: at least once per
channel, with the same idempotency key on every attempt so a receiver can drop repeats. Each
result goes to the audit log. A channel that cannot be reached changes nothing in the store; for a
published report it is kept on the report and escalated to the workflow's owner.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from opsgate.errors import ConfigurationError
from opsgate.models import EscalationReason
from opsgate.notify.channels import DeliveryFailed, Message, post
from opsgate.policy.runtime import Policy
from opsgate.reports.sheets import narrative_markdown
from opsgate.reports.summaries import Summary
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ReportRow

logger = logging.getLogger(__name__)

DELIVERY = "opsgate-delivery"


def send(
    policy: Policy, channels: list[str], message: Message, key: str, run_id: str | None, proposal_id: str | None = None
) -> dict[str, dict[str, Any]]:
    """Post ``message`` to each named channel and audit each result; never raises for a channel."""
    results: dict[str, dict[str, Any]] = {}
    for name in channels:
        channel = policy.channels.get(name)
        try:
            if channel is None:
                raise ConfigurationError(f"the policy defines no channel {name!r}")
            delivery = post(name, channel, message, idempotency_key=f"{key}-{name}")
        except (DeliveryFailed, ConfigurationError) as exc:
            logger.warning("%s was not posted to %s: %s", message.event, name, exc)
            results[name] = {"status": "failed", "error": str(exc)}
        else:
            results[name] = {"status": "delivered", "status_code": delivery.status_code, "attempts": delivery.attempts}
        results[name]["at"] = datetime.now(timezone.utc).isoformat()
    if results:
        with transaction() as session:
            for name, result in results.items():
                event = AuditEvent.DELIVERED if result["status"] == "delivered" else AuditEvent.DELIVERY_FAILED
                audit.append(
                    session,
                    event,
                    workflow=policy.workflow,
                    run_id=run_id,
                    proposal_id=proposal_id,
                    actor=DELIVERY,
                    data={
                        "event": message.event,
                        "channel": name,
                        "idempotency_key": f"{key}-{name}",
                        **result,
                    },
                )
    return results


def deliver_report(policy: Policy, report_id: int, run_id: str, link: str | None) -> dict[str, str]:
    """Post the report to each of its channels not yet delivered, with ``link`` to the run's page;
    returns each channel's status."""
    with transaction() as session:
        row = session.get(ReportRow, report_id)
        assert row is not None, f"report {report_id} was just published"
        pending = [name for name in row.channels if row.deliveries.get(name, {}).get("status") != "delivered"]
        summary = Summary.model_validate(row.narrative)
        message = Message(
            event="report.published",
            title=row.title,
            text=narrative_markdown(summary),
            link=link,
            fields={"subject": row.subject, "report": str(row.id)},
            data={"report_id": row.id, "subject": row.subject, "narrative": row.narrative},
        )
        proposal_id, subject = row.proposal_id, row.subject
    results = send(policy, pending, message, f"{policy.workflow}-report-{report_id}", run_id, proposal_id)
    with transaction() as session:
        row = session.get(ReportRow, report_id, with_for_update=True)
        assert row is not None
        row.deliveries = {**row.deliveries, **results}
        for name, result in results.items():
            if result["status"] != "delivered" and policy.escalation.tool_failure:
                audit.append(
                    session,
                    AuditEvent.ESCALATED,
                    workflow=policy.workflow,
                    run_id=run_id,
                    proposal_id=proposal_id,
                    actor=DELIVERY,
                    data={
                        "source": subject,
                        "to": f"{policy.owner.name} <{policy.owner.contact}>",
                        "case_goes_on": True,
                        "reasons": [
                            {
                                "reason": EscalationReason.TOOL_FAILURE,
                                "field": "channels",
                                "detail": f"report {report_id} not posted to {name}: {result['error']}",
                            }
                        ],
                    },
                )
    return {name: str(result["status"]) for name, result in results.items()}
