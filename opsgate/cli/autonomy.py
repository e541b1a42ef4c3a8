"""`opsgate autonomy`: the modes case types run in now, and a review that proposes promotions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opsgate.cli.errors import exits_cleanly
from opsgate.cli.outcomes import print_outcomes
from opsgate.display import terminal_text

app = typer.Typer(help="Earned autonomy: each case type's mode, and promotions through the gate.", no_args_is_help=True)


@app.command()
@exits_cleanly
def show(workflow: Annotated[str, typer.Argument(help="Workflow name, e.g. invoice_extraction.")]) -> None:
    """Each case type's mode in the policy file and now (after promotions and demotions), and the
    instruction versions that may propose live (by the file, and released since)."""
    from opsgate.learning.autonomy import effective_policy
    from opsgate.learning.releases import releases_in_force
    from opsgate.policy.loader import load_policy

    file = load_policy(workflow)
    now = effective_policy(file)
    table = Table("case type", "policy file", "now", "earned by")
    for case, mode in file.autonomy.items():
        rule = file.earned_autonomy.get(case)
        earned = (
            f"{rule.after_cases} decided in {rule.window_days} days, approval ≥ {rule.min_approval_rate:.0%}, correction ≤ {rule.max_correction_rate:.0%}"
            if rule
            else "-"
        )
        table.add_row(*map(terminal_text, (case, mode.value, now.autonomy[case].value, earned)))
    Console().print(table)
    if file.go_live:
        versions = Table("instruction version", "may propose live by", title="Going live")
        for version in file.go_live.released:
            versions.add_row(terminal_text(version), "the policy file")
        for found in releases_in_force(file.workflow):
            versions.add_row(
                terminal_text(found.version),
                terminal_text(
                    f"release {found.id}, approved {found.released_at:%Y-%m-%d %H:%M} UTC (proposal {found.proposal_id})"
                ),
            )
        Console().print(versions)


@app.command()
@exits_cleanly
def review(
    workflow: Annotated[str, typer.Argument(help="Workflow name, e.g. invoice_extraction.")],
    by: Annotated[str, typer.Option("--as", help="Your name: who asked for the review.")],
) -> None:
    """Propose promoting every case type whose figures meet its rule; the run waits at the gate for
    the people the policy lets decide `autonomy` cases."""
    from opsgate.orchestration.autonomy_review import ReviewParams, autonomy_review
    from opsgate.orchestration.server import prefect_api
    from opsgate.policy.loader import load_policy

    load_policy(workflow)  # a clear error before any run starts
    with prefect_api():
        summary = autonomy_review(ReviewParams(workflow=workflow, requested_as=by))
    if not summary.outcomes:
        Console().print("no case type has earned a promotion; `opsgate metrics` shows the figures")
    print_outcomes(summary)
