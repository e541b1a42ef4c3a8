"""How workflows plug into the platform without the platform importing them.

A workflow exposes one ``WorkflowSpec`` in a light module (no Prefect import) and names it under
the ``opsgate.workflows`` entry point group in ``pyproject.toml``; the spec names its flow by
import path, loaded only when a run starts. The CLI builds ``opsgate run <alias>`` from the spec's
parameter model, adds the workflow's own commands, and the demo runs the spec marked for it.
A workflow whose people keep a record of their work names how to compare it with its shadow runs
(``opsgate eval``); one that can read its past inputs again names how, to try a new instruction
version on them before it goes live (``opsgate replay``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from opsgate.errors import ConfigurationError

if TYPE_CHECKING:
    from opsgate.learning.evaluation import OutcomeComparison, ShadowCase
    from opsgate.models import Proposal
    from opsgate.policy.schema import Policy
    from opsgate.learning.replay import PastCase, Unavailable

ENTRY_POINT_GROUP = "opsgate.workflows"


@dataclass(frozen=True)
class WorkflowSpec:
    name: str  # the one identifier: module, policy file, audit rows (invoice_extraction)
    alias: str  # the CLI's word for it: `opsgate run invoices`
    summary: str
    # "module:attribute" of the Prefect flow, imported only when a run starts; a workflow whose
    # governed flow is not there yet offers only its read-only commands (no `opsgate run`).
    flow: str | None = None
    params_model: type[BaseModel] | None = None
    commands: list[Any] = field(default_factory=list)  # extra top-level CLI commands: functions, or typer groups
    demo_params: Callable[[Path], BaseModel] | None = None  # params for the demo, given a scratch dir
    settings_model: type[BaseModel] | None = None  # checks the `settings` section of the workflow's policy (the whole policy is in its validation context)
    # reads people's outcomes from a file and matches them to the shadow cases (`opsgate eval`); import heavy modules inside it
    compare_outcomes: Callable[[Path, list[ShadowCase]], OutcomeComparison] | None = None
    # proposes again for past cases with an instruction version under a policy (the live one or a candidate), one answer per
    # case in order (`opsgate replay`); import heavy modules inside it
    replay: Callable[[list[PastCase], str, Policy], list[Proposal | Unavailable]] | None = None

    def settings(self, policy: Policy) -> Any:
        """The policy's `settings`, as this workflow's model (the loader has already checked them)."""
        if self.settings_model is None:
            raise ConfigurationError(f"workflow {self.name} takes no settings")
        return self.settings_model.model_validate(policy.settings, context={"policy": policy.model_dump(mode="json")})


def load_flow(spec: WorkflowSpec) -> Any:
    """The spec's Prefect flow (imports Prefect and the flow's module)."""
    if spec.flow is None:
        raise ConfigurationError(f"workflow {spec.name} has no governed flow to run; it offers only its commands")
    module, _, attribute = spec.flow.partition(":")
    return getattr(import_module(module), attribute)


@lru_cache
def workflows() -> dict[str, WorkflowSpec]:
    """Every installed workflow, by alias."""
    found: dict[str, WorkflowSpec] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        spec = point.load()
        if not isinstance(spec, WorkflowSpec):
            raise ConfigurationError(f"entry point {point.name} ({point.value}) is not a WorkflowSpec")
        found[spec.alias] = spec
    return found


def by_name(name: str) -> WorkflowSpec:
    for spec in workflows().values():
        if spec.name == name or spec.alias == name:
            return spec
    raise ConfigurationError(f"no workflow called {name!r}; installed: {', '.join(sorted(workflows())) or 'none'}")
