"""`opsgate release`: let a new instruction version propose live, on the evidence of its replay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsgate.cli.errors import exits_cleanly
from opsgate.cli.outcomes import print_outcomes


@exits_cleanly
def release(
    workflow: Annotated[str, typer.Argument(help="The workflow, by alias or name: invoices, dedupe, summary, triage.")],
    version: Annotated[
        str, typer.Option(help="The instruction version to release, exactly as its proposals carry it.")
    ],
    by: Annotated[str, typer.Option("--as", help="Your name: who asked for the release.")],
    policy: Annotated[
        Path | None,
        typer.Option(help="The candidate policy file that defines the version (duplicate flagging's matching rules)."),
    ] = None,
) -> None:
    """Replay the version over the past cases the policy's go_live rule names; when it meets the
    rule, propose its release, which waits at the gate for the people the policy lets decide
    `release` cases. Exits 1 when the version is not ready (nothing is proposed)."""
    from opsgate.orchestration.release import ReleaseParams, instruction_release
    from opsgate.orchestration.server import prefect_api
    from opsgate.policy.loader import load_policy
    from opsgate.workflows import by_name

    spec = by_name(workflow)
    load_policy(spec.name)  # a clear error before any run starts
    with prefect_api():
        summary = instruction_release(
            ReleaseParams(workflow=spec.name, version=version, candidate=policy, requested_as=by)
        )
    print_outcomes(summary)
    if any(outcome.status == "failed" for outcome in summary.outcomes):
        raise typer.Exit(1)
