"""The `opsgate` command, assembled from its command groups and the installed workflows."""

from __future__ import annotations

import typer

from opsgate.cli import approvals, audit, autonomy, demo, incident, metrics, policy, reports, run, runs, server, undo
from opsgate.cli.errors import exits_cleanly
from opsgate.cli.eval import evaluate
from opsgate.cli.recover import recover
from opsgate.cli.release import release
from opsgate.cli.replay import replay
from opsgate.workflows import workflows

app = typer.Typer(
    name="opsgate",
    help="Governed AI workflows for back-office teams: agents propose, people approve, one executor writes, everything is audited.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(demo.demo)
app.add_typer(run.app, name="run")
app.add_typer(runs.app, name="runs")
app.add_typer(approvals.app, name="approvals")
app.add_typer(audit.app, name="audit")
app.add_typer(policy.app, name="policy")
app.add_typer(reports.app, name="reports")
app.add_typer(incident.app, name="incident")
app.add_typer(autonomy.app, name="autonomy")
app.add_typer(server.app, name="server")
app.command()(undo.undo)
app.command()(metrics.metrics)
app.command("eval")(evaluate)
app.command()(replay)
app.command()(release)
app.command()(recover)
for spec in workflows().values():
    for command in spec.commands:
        if isinstance(command, typer.Typer):  # a command group (`opsgate summary facts`): its commands handle their errors
            app.add_typer(command)
        else:
            app.command()(exits_cleanly(command))


def main() -> None:
    app()
