"""`opsgate triage FILE... [--json]` and `opsgate triage train --history FILE`: propose a queue for
each request, and learn the queues from what the team's people chose. Neither writes anything but
the trained model to the store; no server is needed."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from typer.core import TyperGroup

from opsgate import ConfigurationError, InputError, exits_cleanly, terminal_text
from tasks.request_triage.history import PRIORITY_COLUMNS, QUEUE_COLUMNS, history_column
from tasks.request_triage.nowhere import NOWHERE

stderr = Console(stderr=True, soft_wrap=True)
MIXED_UP_SHOWN = 10  # the pairs of queues the history mixes up that training shows, the worst first


class _FilesOrCommand(TyperGroup):
    """`opsgate triage a.eml b.csv` reads files; `opsgate triage train ...` trains: whatever is not
    a sub-command's name is a file to read (a file called "train" is ./train)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["read", *args]
        return super().parse_args(ctx, args)


triage = typer.Typer(
    name="triage",
    cls=_FilesOrCommand,
    help=(
        "`opsgate triage FILE... [--json] [--route-at P]`: propose a queue, priority, language and entities for "
        "each request in .eml, mbox, .txt, or CSV/JSON lines with `text` and an optional `id` (no writes). "
        "`opsgate triage train --history FILE` learns the queues from past requests people routed."
    ),
    no_args_is_help=True,
)


@triage.command("read", hidden=True)
@exits_cleanly
def read(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Requests: .eml, mbox, .txt, or CSV/JSON lines with a `text` column and an optional `id`.",
        ),
    ],
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per request on stdout, in input order.")
    ] = False,
    route_at: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="The queue confidence below which a request is escalated.")
    ] = 0.9,
) -> None:
    """Triage requests with the policy's backend: the newest classifier the store holds, once one is
    trained. Writes nothing."""
    from opsgate import load_policy, workflow_settings
    from tasks.request_triage.inbound import read_requests
    from tasks.request_triage.routers import router_for
    from tasks.request_triage.triaging import Classifier, triage_all
    from tasks.request_triage.workflow import SPEC, WORKFLOW

    settings = workflow_settings(SPEC, load_policy(WORKFLOW))
    # The router (the classifier's arrays, the encoder's session) loads while reader processes
    # read the files; a router that cannot load stops the reading at the next file done.
    with (
        ThreadPoolExecutor(1) as loading,
        Progress(console=stderr, transient=True, disable=len(paths) < 2 or not sys.stderr.isatty()) as progress,
    ):
        routing = loading.submit(router_for, settings)
        task = progress.add_task("reading", total=len(paths))

        def read_so_far(done: int) -> None:
            progress.update(task, completed=done)
            if routing.done() and routing.exception() is not None:
                routing.result()

        requests = read_requests(paths, read_so_far)
        router = routing.result()
    if not isinstance(router, Classifier):
        stderr.print(
            f"no request classifier is trained: routing with {terminal_text(router.version)} from the policy; "
            "`opsgate triage train --history FILE` learns the team's own queues"
        )
    results = triage_all(requests, router, route_at)
    if json:
        import json as json_module

        sys.stdout.write("".join(json_module.dumps(r.contract(), ensure_ascii=False) + "\n" for r in results))
        return
    table = Table(
        "id", "status", "queue", "confidence", "priority", "language", "escalations / error", title=router.version
    )
    for r in results:
        problems = r.error or "; ".join(e.describe() for e in r.escalations)
        cells = (
            r.id,
            r.status,
            r.queue or "",
            "" if r.confidence is None else f"{r.confidence:.2f}",
            r.priority or "",
            r.language or "",
            problems,
        )
        table.add_row(*map(terminal_text, cells))
    Console().print(table)


@triage.command("train")
@exits_cleanly
def train(
    history: Annotated[
        Path | None,
        typer.Option(
            help="Past requests: CSV or JSON lines with `text` and `queue` columns (others kept as context). "
            "Without it, the model learns from the requests routed through the gate alone."
        ),
    ] = None,
    queue_column: Annotated[
        str | None,
        typer.Option(
            help="The column that holds the queue people chose. Unset: the first of "
            f"{', '.join(QUEUE_COLUMNS)} the history has."
        ),
    ] = None,
    priority_column: Annotated[
        str | None,
        typer.Option(
            help="The column that holds the priority people gave, where the history keeps one (high, urgent, P1; "
            f"normal, medium; low, minor): the priority is learnt from it too. Unset: the first of "
            f"{', '.join(PRIORITY_COLUMNS)} the history has."
        ),
    ] = None,
    out_of_scope_label: Annotated[
        list[str] | None,
        typer.Option(
            help="A queue value that means the request was routed nowhere (spam, another desk's mail): learnt as "
            f"out of scope, never as a queue. Repeat it for several; without it: {', '.join(NOWHERE)}."
        ),
    ] = None,
    escalate_at_most: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            max=0.5,
            help="The share of the team's own requests the out-of-scope lines may send to a person: more catches more "
            "requests of no queue, less routes more. Unset: 0.005, or two of the history's requests where that is "
            "more (banking77: 0.005 catches 9 % of ten unseen queues' requests at accuracy 0.941; 0.04, 29 % at 0.922).",
        ),
    ] = None,
) -> None:
    """Learn the queues from the team's routed history and from every request routed through the
    gate (corrections included); the model goes to the store as a new version."""
    from tasks.request_triage.inbound import read_requests
    from tasks.request_triage.training import train_and_store

    started = time.perf_counter()
    rows, usable = [], []
    if history is not None:
        with stderr.status(f"reading {history}", spinner="dots"):
            rows = read_requests([history])
        errors = [r for r in rows if r.error]
        queue_column = history_column(rows, queue_column, QUEUE_COLUMNS, "the queue people chose")
        priority_column = history_column(rows, priority_column, PRIORITY_COLUMNS, "the priority people gave")
        if queue_column is None:
            raise InputError(
                f"{history}: no column holds the queue people chose (none of {', '.join(QUEUE_COLUMNS)}); "
                "name it with --queue-column" + (f" ({errors[0].error})" if errors else "")
            )
        usable = [r for r in rows if r.error is None and r.context.get(queue_column, "").strip()]
        if not usable:
            raise InputError(
                f"{history}: no row has both text and a {queue_column!r} column value"
                + (f" ({errors[0].error})" if errors else "")
            )
    with stderr.status(f"training on {len(usable):,} requests and those routed through the gate", spinner="dots"):
        try:
            version, report = train_and_store(
                usable,
                queue_column or QUEUE_COLUMNS[0],  # no history: no rows to read it from
                history.name if history else "routed tickets",
                out_of_scope_label or NOWHERE,
                priority_column,
                escalate_at_most,
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    seconds = time.perf_counter() - started
    skipped = len(rows) - len(usable)
    stderr.print(
        f"trained {terminal_text(version)} on {report['requests']:,} requests "
        f"({report['routed']:,} routed through the gate) in {report['queues']} queues in {seconds:.1f} s"
        + (
            f"; queues read from the {terminal_text(repr(queue_column))} column"
            if queue_column not in (None, "queue")
            else ""
        )
        + (
            f"; priorities from the {terminal_text(repr(priority_column))} column"
            if priority_column not in (None, "priority")
            else ""
        )
        + (f"; {skipped} rows without text or queue left out" if skipped else "")
        + (f"; {report['nowhere']:,} routed nowhere, learnt as out of scope" if report["nowhere"] else "")
        + (f" ({report['not_ours']:,} closed as not ours at the gate)" if report["not_ours"] else "")
        + (
            f"; the priority learnt from {report['prioritised']:,} of them ({', '.join(report['priorities'])})"
            if report["priorities"]
            else ""
        )
        + f"; out of scope below a claim of {report['out_of_scope_below']:.2f} "
        f"or a likeness of {report['far_below']:.2f} to the nearest routed request"
    )
    if report["mixed_up"]:
        stderr.print(_mixed_up(report["mixed_up"][:MIXED_UP_SHOWN]))
        if len(report["mixed_up"]) > MIXED_UP_SHOWN:
            more = len(report["mixed_up"]) - MIXED_UP_SHOWN
            stderr.print(f"and {more} more; a request in doubt between two such queues says so at the gate")
    sys.stdout.write(version + "\n")


def _mixed_up(pairs: list[dict[str, object]]) -> Table:
    """The queues the history itself mixes up: what holds accuracy back, and only the team can
    clear up (merge the two, or describe and route them apart)."""
    table = Table(
        "queue",
        "put in",
        "requests",
        "share",
        title="Queues the history mixes up: its requests of one queue the model put in another, not having learnt them",
        title_justify="left",
    )
    for pair in pairs:
        requests, of = int(str(pair["requests"])), int(str(pair["of"]))
        table.add_row(
            terminal_text(str(pair["queue"])),
            terminal_text(str(pair["read_as"])),
            f"{requests}/{of}",
            f"{requests / of:.0%}",
        )
    return table
