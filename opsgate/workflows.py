"""How workflows plug into the platform without the platform importing them.

A workflow exposes one ``WorkflowSpec`` in a tiny module and names it under the
``opsgate.workflows`` entry point group in ``pyproject.toml``. Everything the spec points at (its
flow, parameter and settings models, commands, hooks) is named by import path ("module:attribute")
and loaded only when it is used: listing the commands (``opsgate --help``), checking a policy file
or answering an approval imports no workflow code beyond the specs. The CLI builds ``opsgate run
<alias>`` from the spec's parameter model and adds the workflow's own commands; the demo runs the
spec that has demo inputs. A workflow whose people keep a record of their work names how to compare
it with its shadow runs (``opsgate eval``); one that can read its past inputs again names how, to
try a new instruction version on them before it goes live (``opsgate replay``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from opsgate.errors import ConfigurationError

ENTRY_POINT_GROUP = "opsgate.workflows"


def load(target: str) -> Any:
    """The object a "module:attribute" path names, importing its module now."""
    module, _, attribute = target.partition(":")
    try:
        return getattr(import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load {target!r}: {exc}") from exc


@dataclass(frozen=True)
class Command:
    """A top-level command a workflow adds to ``opsgate``, loaded only when it runs."""

    name: str
    target: str  # "module:attribute" of a function (one command) or a typer group (`opsgate summary facts`)
    summary: str  # the line `opsgate --help` shows


@dataclass(frozen=True)
class WorkflowSpec:
    """A workflow as the platform sees it; every field after ``summary`` is a "module:attribute" path.

    - ``flow``: the Prefect flow; a workflow without one offers only its commands (no `opsgate run`).
    - ``params_model``: the flow's parameters (a pydantic model): the CLI's options and the UI's form.
    - ``demo_params``: ``(scratch: Path) -> params`` for `opsgate demo`.
    - ``settings_model``: checks the `settings` section of the workflow's policy (the whole policy is
      in its validation context).
    - ``compare_outcomes``: ``(file, shadow cases) -> OutcomeComparison`` for `opsgate eval`.
    - ``replay``: ``(past cases, instruction version, policy) -> [Proposal | Unavailable]``, one
      answer per case in order, for `opsgate replay`.
    - ``take_up``: ``(the escalated case's Proposal, a person's values, policy) -> Proposal`` for `opsgate
      escalations take`: the action for a case the workflow escalated, with the values a person
      chose (a request that fit no queue, routed to one); without it, the action first proposed
      with those values, and a case escalated with no action can only be closed.
    - ``take_up_form``: ``(the escalated case's Proposal, policy) -> [TakeUpField]``, the values the
      review screen asks a person for to take a case up (a queue among the policy's); without it,
      the plain values of the action first proposed.
    """

    name: str  # the one identifier: module, policy file, audit rows (invoice_extraction)
    alias: str  # the CLI's word for it: `opsgate run invoices`
    summary: str
    flow: str | None = None
    params_model: str | None = None
    commands: tuple[Command, ...] = ()
    demo_params: str | None = None
    settings_model: str | None = None
    compare_outcomes: str | None = None
    replay: str | None = None
    take_up: str | None = None
    take_up_form: str | None = None


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
