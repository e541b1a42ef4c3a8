"""`opsgate escalations` through the CLI: what a case carries is shown as text, a take-up a policy
would refuse is refused before any run starts, and a case closed as not ours leaves the list."""

from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.governance import escalations
from opsgate.store.db import transaction
from opsgate.store.tables import RunRow, TakeUpRequestRow
from tests.support.escalated import out_of_scope_request

runner = CliRunner()
WORKFLOW = "request_triage"
SOURCE = "[bold red]urgent[/bold red]\x1b[2J.eml"


def _escalated_request() -> str:
    detail = "no queue claims it [link=x]y[/link]"
    return out_of_scope_request(SOURCE, "<m@x>", "Lunch", "Lunch on Friday?", detail).id


def _runs() -> int:
    with transaction() as session:
        return session.execute(select(func.count()).select_from(RunRow)).scalar_one()


def test_escalations_are_listed_as_text_and_a_refused_take_up_starts_no_run(opsgate_env: str) -> None:
    case = _escalated_request()
    listed = runner.invoke(app, ["escalations", "list", "--workflow", "triage"], env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    assert case[:8] in listed.stdout and "[bold red]urgent[/bold red]" in listed.stdout
    assert "\x1b" not in listed.stdout and "[link=x]y[/link]" in listed.stdout

    before = _runs()
    for assignment, problem in (
        ("queue=nowhere", "name the queue it goes to"),
        ("colour=red", "not colour"),
        ("queue", "--set takes FIELD=VALUE"),
    ):
        refused = runner.invoke(app, ["escalations", "take", case[:8], "--as", "bob", "--set", assignment])
        assert refused.exit_code == 2 and problem in refused.output, refused.output
    assert _runs() == before and escalations.open_escalations(WORKFLOW)[0].proposal_id == case
    with transaction() as session:
        assert session.execute(select(func.count()).select_from(TakeUpRequestRow)).scalar_one() == 0
    escalations.ask_take_up(case, {"queue": "orders"}, "[red]lena[/red]")
    asked = runner.invoke(app, ["escalations", "list"], env={"COLUMNS": "300"})
    assert asked.exit_code == 0 and "[red]lena[/red] (no run started)" in asked.stdout, "who asked is shown, as text"

    # A dispatcher decides requests, not what fits no queue: the policy lets the desk leads close that.
    dispatcher = runner.invoke(app, ["escalations", "close", case, "--as", "bob", "--reason", "spam", "--not-ours"])
    assert dispatcher.exit_code == 2 and "bob may not close out_of_scope cases" in dispatcher.output
    assert "desk-leads" in dispatcher.output and escalations.not_ours(WORKFLOW) == []
    closed = runner.invoke(
        app, ["escalations", "close", case, "--as", "olga", "--reason", "a lunch invite", "--not-ours"]
    )
    assert closed.exit_code == 0 and "closed (not_ours) by olga" in closed.stdout
    assert escalations.not_ours(WORKFLOW) == [
        {"request": "<m@x>", "subject": "Lunch", "sender": "ann@small.example", "text": "Lunch on Friday?"}
    ]
    again = runner.invoke(app, ["escalations", "close", case, "--as", "lena", "--reason", "spam"])
    assert again.exit_code == 2 and "already answered: not_ours by olga" in again.output
    unknown = runner.invoke(app, ["escalations", "close", "zz", "--as", "carol", "--reason", "spam"])
    assert unknown.exit_code == 2 and "no escalated case starts with 'zz'" in unknown.output
    assert "no open escalations" in runner.invoke(app, ["escalations", "list"]).stdout
