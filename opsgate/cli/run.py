"""`opsgate run <workflow>`: run a workflow in this terminal, waiting at its gate.

One command per installed workflow, its options generated from the workflow's parameter model,
so the CLI and the Prefect UI's run form always agree on what a run takes.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.display import terminal_text
from opsgate.errors import ConfigurationError
from opsgate.models import RunSummary
from opsgate.policy.loader import load_policy
from opsgate.workflows import WorkflowSpec, load, workflows

app = typer.Typer(help="Run a workflow now (it waits at its gate for a decision).", no_args_is_help=True)


def outcomes_table(summary: RunSummary) -> Table:
    table = Table("source", "status", "detail", title=f"{summary.workflow} · run {summary.run_id}")
    colours = {"executed": "green", "rejected": "yellow", "escalated": "magenta", "failed": "red", "expired": "red"}
    for o in summary.outcomes:
        table.add_row(
            terminal_text(o.source), terminal_text(o.status, colours.get(o.status, "white")), terminal_text(o.detail)
        )
    return table


def run_workflow(spec: WorkflowSpec, params: Any) -> RunSummary:
    from opsgate.orchestration.server import prefect_api  # Prefect loads only when a run starts

    with prefect_api():
        assert spec.flow is not None, f"{spec.name} has no governed flow"
        return load(spec.flow)(params)


def _option_problem(error: Any) -> str:
    """A parameter error in the CLI's words: the option's name, not the model's field."""
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"--{str(error['loc'][0]).replace('_', '-')}: {message}" if error["loc"] else message


def _command(spec: WorkflowSpec) -> Any:
    assert spec.params_model is not None, f"{spec.name}: a workflow with a flow needs its parameter model"
    params_model = load(spec.params_model)

    def command(**options: Any) -> None:
        try:
            params = params_model(**{k: v for k, v in options.items() if v is not None})
        except ValidationError as exc:
            raise ConfigurationError("; ".join(_option_problem(error) for error in exc.errors())) from None
        load_policy(spec.name)  # refuse before any run exists: a workflow without a valid policy never starts
        summary = run_workflow(spec, params)
        Console().print(outcomes_table(summary))

    parameters = []
    for name, field in params_model.model_fields.items():
        default = ... if field.is_required() else field.default
        option = typer.Option(default, f"--{name.replace('_', '-')}", help=field.description or "")
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=field.annotation)
        )
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__doc__ = spec.summary
    command.__name__ = spec.alias
    return exits_cleanly(command)


for _spec in workflows().values():
    if _spec.flow is not None:
        app.command(_spec.alias, help=_spec.summary)(_command(_spec))
