"""Replay throughput: how long it takes to judge a new instruction version against past decisions.

    python3 -m uv run python benchmarks/replay_cases.py [--invoices 600] [--records 10000] [--database-url URL]

First it builds history without Prefect, through the platform's own steps (record and route every
proposal, a person's approval, the executor): ``--invoices`` generated text PDFs read by the rules
and posted, and the merges of ``--records`` generated company records (benchmarks/record_generator.py,
seed 1) matched and merged with both case types on `auto`. Then it replays:

- invoices with ``rules-v1`` (every document read again from disk, its digest checked first);
- duplicate flagging with the live matching rules, and with a candidate policy whose review_at is
  0.9 (each case's stored records matched again, every pair, with the stored model).

Prints the data size, seconds and cases per second for each replay, and its agreement and verdict.
The store is a fresh SQLite file in a temp folder unless --database-url names another.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from rich.progress import track

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from record_generator import generate  # noqa: E402

from tests.support.batches import generated_inbox  # noqa: E402

DEDUPE = "duplicate_flagging"


def policies(folder: Path) -> Path:
    """The shipped policies with duplicate flagging on `auto` (no person waited for), and a
    candidate of the next matching rules beside them. Returns the candidate's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for shipped in (REPO / "policies").glob("*.yaml"):
        (folder / shipped.name).write_bytes(shipped.read_bytes())
    data = yaml.safe_load((REPO / "policies" / f"{DEDUPE}.yaml").read_text(encoding="utf-8"))
    data["autonomy"] = {case: "auto" for case in data["autonomy"]}
    (folder / f"{DEDUPE}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    data["instruction_version"], data["settings"]["review_at"] = "fellegi-sunter-v2", 0.9
    candidate = folder.parent / "candidate.yaml"
    candidate.write_text(yaml.safe_dump(data), encoding="utf-8")
    os.environ["OPSGATE_POLICY_DIR"] = str(folder)
    return candidate


def invoice_history(inbox: Path, count: int) -> None:
    from opsgate.cli.approvals import answer_for
    from opsgate.governance import executor, requests, runs
    from opsgate.learning.decisions import decide
    from opsgate.learning.governing import governing
    from tasks.invoice_extraction.extracting import extract_document
    from tasks.invoice_extraction.proposing import propose_all

    paths = generated_inbox(inbox, count)
    start = time.perf_counter()
    run = runs.start_run(governing("invoice_extraction"), "benchmark")
    required = run.policy.escalation.missing_data.fields if run.policy.escalation.missing_data else []
    proposals = propose_all(
        [extract_document(path, required) for path in track(paths, description="reading invoices")], run.policy
    )
    runs.check_policy(run, proposals)
    request = requests.open_request(run.workflow, run.id, "benchmark", "bench-1", proposals, requests.deadline_in(3600))
    decisions = decide(request.id, answer_for(request, "alice"))  # an AP clerk: the policy names who may decide
    for decision in track(decisions, description="posting"):
        executor.execute_one(run.policy, decision.proposal_id)
    print(f"invoice history: documents={count} posted={len(decisions)} seconds={time.perf_counter() - start:.1f}")


def dedupe_history(records_csv: Path, rows: int) -> None:
    from opsgate.governance import executor, runs
    from opsgate.inputs.tabular import read_records
    from opsgate.learning.governing import governing
    from opsgate.models import Route
    from opsgate.policy.loader import workflow_settings
    from tasks.duplicate_flagging.fields import infer_fields
    from tasks.duplicate_flagging.matching import MatchSettings, find_duplicates
    from tasks.duplicate_flagging.proposing import Matched, propose_merges
    from tasks.duplicate_flagging.store import ID_COLUMN, import_records, live_records, save_model
    from tasks.duplicate_flagging.workflow import SPEC

    start = time.perf_counter()
    run = runs.start_run(governing(DEDUPE), "benchmark")
    import_records(
        "company",
        read_records(records_csv, "id").frame,
        "id",
        workflow=DEDUPE,
        run_id=run.id,
        actor="benchmark",
        source=str(records_csv),
    )
    stored = live_records("company")
    fields, _ = infer_fields(list(stored.frame.columns), ID_COLUMN)
    settings = workflow_settings(SPEC, run.policy)
    decisions = find_duplicates(
        stored.frame,
        fields,
        MatchSettings(duplicate_at=settings.duplicate_at, review_at=settings.review_at, cohesion=settings.cohesion),
    )
    model = save_model(DEDUPE, "company", fields, decisions.scored.model, run.id, 0)
    found, _ = propose_merges(
        Matched("company", stored.frame, stored.updated_at, fields, model.id), decisions, run.policy, settings, []
    )
    proposals = [p.proposal for p in found]
    verdicts = runs.check_policy(run, proposals)
    executed = 0
    for proposal, verdict in track(list(zip(proposals, verdicts, strict=True)), description="merging"):
        if verdict.route is Route.AUTO:
            executed += executor.execute_one(run.policy, proposal.id).status == "executed"
    print(
        f"merge history: records={rows} merge_cases={len(proposals)} merged={executed} seconds={time.perf_counter() - start:.1f}"
    )


def timed_replay(workflow: str, version: str, candidate: Path | None = None) -> None:
    from opsgate.learning.replay import replay
    from opsgate.workflows import by_name

    now = datetime.now(timezone.utc)
    start = time.perf_counter()
    report = replay(by_name(workflow), version, now - timedelta(days=1), now + timedelta(seconds=1), 0.98, candidate)
    seconds = time.perf_counter() - start
    print(
        f"replay {workflow} {version}{' (candidate policy)' if candidate else ''}: cases={report.cases} replayed={report.replayed} "
        f"seconds={seconds:.2f} cases_per_second={report.cases / seconds:.0f} agreement={report.agreement} "
        f"would_write_where_rejected={len(report.wrong)} would_not_write={len(report.missed)} verdict={report.verdict!r}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=600)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        os.environ["OPSGATE_DATA_DIR"] = str(scratch / "data")
        os.environ["OPSGATE_DATABASE_URL"] = args.database_url or f"sqlite:///{scratch / 'opsgate.db'}"
        candidate = policies(scratch / "policies")
        invoice_history(scratch / "inbox", args.invoices)
        records, _ = generate(args.records, "company", seed=1)
        records.to_csv(scratch / "records.csv", index=False)
        dedupe_history(scratch / "records.csv", args.records)
        timed_replay("invoice_extraction", "rules-v1")
        timed_replay(DEDUPE, "fellegi-sunter-v1")
        timed_replay(DEDUPE, "fellegi-sunter-v2", candidate)


if __name__ == "__main__":
    main()
