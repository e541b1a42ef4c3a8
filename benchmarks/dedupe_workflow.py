"""The governed duplicate-flagging workflow end to end: a full run that loads and matches a record
set, then an incremental run for newly arrived records, each through the policy, the executor and
the audit log (the policy variant gives both case types `auto`, so no person is waited for).

    python3 -m uv run python benchmarks/dedupe_workflow.py [--rows 10000] [--new 0.01] [--kind company] [--database-url URL]

Records come from benchmarks/record_generator.py (seed 1); a random share (`--new`) is held back
and arrives in the incremental run. The store is a fresh SQLite file in a temp folder unless
--database-url names another (an empty PostgreSQL schema, say). Uses the configured Prefect server
(PREFECT_API_URL) or opsgate's local one. Prints, per run: records loaded and live, seconds,
records per second, merges executed, and what else the run's cases ended as; then the merges'
pairwise precision and recall against the generator's truth.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from record_generator import generate  # noqa: E402


def auto_policy(folder: Path) -> None:
    data = yaml.safe_load((REPO / "policies" / "duplicate_flagging.yaml").read_text(encoding="utf-8"))
    data["autonomy"] = {case: "auto" for case in data["autonomy"]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "duplicate_flagging.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    os.environ["OPSGATE_POLICY_DIR"] = str(folder)


def merged_pairs() -> set[frozenset[str]]:
    """Every pair of records that now live as one, by following each merge to its survivor."""
    from sqlalchemy import select

    from opsgate.store.db import transaction
    from opsgate.store.tables import RecordRow

    with transaction() as session:
        rows = session.execute(select(RecordRow.id, RecordRow.external_id, RecordRow.merged_into)).all()
    parent = {r.id: r.merged_into for r in rows}
    names = {r.id: r.external_id for r in rows}

    def root(record_id: int) -> int:
        while parent[record_id] is not None:
            record_id = parent[record_id]  # type: ignore[assignment]
        return record_id

    groups: dict[int, list[str]] = {}
    for record_id in parent:
        groups.setdefault(root(record_id), []).append(names[record_id])
    return {frozenset(pair) for members in groups.values() for pair in combinations(sorted(members), 2)}


def run(label: str, params: object, loaded: int) -> None:
    from flows.duplicate_flagging import duplicate_flagging

    start = time.perf_counter()
    summary = duplicate_flagging(params)
    seconds = time.perf_counter() - start
    executed = summary.counts.get("executed", 0)
    others = {k: v for k, v in summary.counts.items() if k != "executed"}
    print(
        f"{label}: records_loaded={loaded} seconds={seconds:.1f} records_per_second={loaded / seconds:,.0f} merges_executed={executed} other_cases={others}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--new", type=float, default=0.01, help="share of the records that arrive in the incremental run"
    )
    parser.add_argument("--kind", choices=["person", "company"], default="company")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        os.environ["OPSGATE_DATABASE_URL"] = args.database_url or f"sqlite:///{scratch / 'opsgate.db'}"
        auto_policy(scratch / "policies")
        records, pairs = generate(args.rows, args.kind, seed=1)
        arriving = np.random.default_rng(1).random(len(records)) < args.new
        existing, new = scratch / "existing.csv", scratch / "new.csv"
        records[~arriving].to_csv(existing, index=False)
        records[arriving].to_csv(new, index=False)
        truth = {frozenset(pair) for pair in pairs.itertuples(index=False)}
        print(f"records={len(records)} kind={args.kind} true_pairs={len(truth)} arriving_later={int(arriving.sum())}")

        from opsgate.orchestration.server import prefect_api
        from tasks.duplicate_flagging.params import DedupeParams

        with prefect_api():
            run(
                "full run",
                DedupeParams(kind=args.kind, file=existing, id_column="id", trigger="benchmark"),
                int((~arriving).sum()),
            )
            run(
                "incremental run",
                DedupeParams(kind=args.kind, file=new, id_column="id", incremental=True, trigger="benchmark"),
                int(arriving.sum()),
            )
        found = merged_pairs()
        hits = len(found & truth)
        print(
            (
                f"merged pairs={len(found)} precision={hits / max(len(found), 1):.3f} "
                f"recall={hits / max(len(truth), 1):.3f} (pairwise, against the generator's truth)"
            )
        )


if __name__ == "__main__":
    main()
