"""The triage workflow's `settings` in its policy file: the queues people route to (with what each
is for and the group that owns it), and the customers whose requests always go to a person.
Loaded with the workflow's spec, so it imports no heavy library.

The queues and their owner groups are also the values ``tickets.route`` may take
(``tools.tickets.route.values``): the one list the policy engine holds every proposal and every
approver's edit to. The validator below keeps the two the same, so neither can drift."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

ROUTE_TOOL = "tickets.route"


class Queue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, description="What belongs here, in the words a dispatcher would use.")
    owner_group: str = Field(min_length=1, max_length=100, description="The group that picks its requests up.")
    keywords: list[str] = Field(
        default_factory=list, description="Words that put a request here, for the rules backend (no history yet)."
    )


class TriageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["model", "rules", "llm", "auto"] = Field(
        "auto",
        description=(
            "Who proposes the queue: the classifier trained from the team's routing, the queues' keywords, an LLM "
            "from the queues' descriptions, or auto: the classifier once trained, else the LLM when one is "
            "configured, else the keywords."
        ),
    )
    queues: dict[str, Queue] = Field(min_length=1, description="Where requests may be routed, by name.")
    customers: Path | None = Field(
        None,
        description=(
            "CSV of the enterprise customers (columns email, domain, customer_id; any may be empty); their "
            "requests are the enterprise_customer case type. Relative to the policy file's folder."
        ),
    )

    @property
    def keywords(self) -> dict[str, list[str]]:
        """Each queue's words for the rules backend."""
        return {name: queue.keywords for name, queue in self.queues.items()}

    @model_validator(mode="after")
    def _routes_where_the_tool_may(self, info: ValidationInfo) -> Self:
        policy = (info.context or {}).get("policy")
        if policy is None:
            return self
        values = ((policy.get("tools") or {}).get(ROUTE_TOOL) or {}).get("values") or {}
        expected = {
            "queue": sorted(self.queues),
            "assignee_group": sorted({q.owner_group for q in self.queues.values()}),
        }
        for field, names in expected.items():
            if sorted(values.get(field) or []) != names:
                raise ValueError(
                    f"tools.{ROUTE_TOOL}.values.{field} must list exactly the settings' "
                    f"{'queues' if field == 'queue' else 'owner groups'}: {', '.join(names)}"
                )
        return self
