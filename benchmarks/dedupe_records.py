"""Duplicate flagging: accuracy of `opsgate dedupe` on the public sets with known duplicates, then its
speed, memory and accuracy next to Splink on synthetic sets of growing size, all counted by the
scorer that defines accuracy for opsgate (score_pairs.py).

    python3 -m uv run --group bench python benchmarks/dedupe_records.py [--sizes 10000,100000,1000000] [--kind person]
        [--no-splink] [--data DIR] [--bench DIR] [--timeout SECONDS]

1. Public sets: chicago_early_learning_sites.csv (id `Id`; truth: every pair of Ids sharing a
   `True Id`, a column opsgate is not shown), febrl3.csv (id `rec_id`; truth febrl3_true_pairs.csv)
   and fake_1000.csv (Splink's 1,000 people; id `unique_id`; truth: every pair sharing a `cluster`,
   a column opsgate is not shown). Splink runs on each too, its columns named for it (``--columns``).
2. Synthetic sets from benchmarks/record_generator.py (seed 1), one per size: `opsgate dedupe` and
   benchmarks/splink_baseline.py each run as their own process on the same file.

Every tool runs as a child process: wall seconds from outside, peak resident memory of the child
from /usr/bin/time (or a small wrapper reading RUSAGE_CHILDREN where that is missing). A tool that
fails or times out is reported and the run goes on. Temporary files live in the system temp folder.
Prints a table per part: size, tool, seconds, records per second, peak MB, precision, recall, F1,
queue recall (recall of duplicate + review), pairs emitted; and per size the time ratio
Splink/opsgate and the F1 difference opsgate - Splink; and per set the blocking recall and the share of
all pairs that are candidates (benchmarks/blocking_recall.py, its own process, not timed with opsgate).
Needs the `bench` dependency group for Splink.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from record_generator import generate, write

REPO = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None
# Runs a command and writes the peak RSS (KiB) of its process tree to argv[1]: used where /usr/bin/time is missing.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(rc)\n"
)


@dataclass
class Run:
    """One tool on one file: how long, how much memory, and what the scorer said."""

    tool: str
    records: int
    ok: bool = False
    seconds: float = 0.0
    peak_mb: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    emitted: int = 0
    error: str = ""


def opsgate_command() -> list[str]:
    """The `opsgate` entry point of this environment, called directly so `uv run` start-up is not timed."""
    script = Path(sys.executable).parent / "opsgate"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from opsgate.cli.app import main; main()"]


def measured(command: list[str], stdout: Path, scratch: Path, timeout: float) -> tuple[int, float, float, str]:
    """Run ``command`` with stdout into a file; returns (exit code, wall seconds, peak MB of the child, stderr tail)."""
    rss_file = scratch / "peak_rss_kb"
    rss_file.unlink(missing_ok=True)
    if TIME:
        wrapped = [TIME, "-q", "-o", str(rss_file), "-f", "%M", *command]
    else:
        wrapped = [sys.executable, "-c", RSS_WRAPPER, str(rss_file), *command]
    start = time.perf_counter()
    with stdout.open("w", encoding="utf-8") as out:
        # Own process group, so a timeout stops the tool itself and not only the wrapper around it.
        child = subprocess.Popen(
            wrapped, stdout=out, stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True
        )
        try:
            _, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return -1, time.perf_counter() - start, 0.0, f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - start
    peak_kb = (
        rss_file.read_text().strip().splitlines()[-1] if rss_file.exists() and rss_file.read_text().strip() else "0"
    )
    tail = "\n".join(stderr.strip().splitlines()[-6:])
    return child.returncode, seconds, float(peak_kb) / 1024 if peak_kb.isdigit() else 0.0, tail


def score(scorer: Path, truth: Path, predictions: Path) -> dict[str, float]:
    """The scorer's key=value numbers (true_pairs, flagged, review, precision, recall, queue_recall, f1)."""
    done = subprocess.run(
        [sys.executable, str(scorer), str(truth), str(predictions)], capture_output=True, text=True, check=True
    )
    return {key: float(value) for key, value in re.findall(r"(\w+)=([0-9.]+)", done.stdout)}


def count_lines(path: Path) -> int:
    """Pairs a tool emitted: JSON lines in its output."""
    with path.open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.lstrip().startswith("{"))


def run_tool(
    tool: str,
    command: list[str],
    records: int,
    truth: Path,
    predictions: Path,
    scorer: Path,
    scratch: Path,
    timeout: float,
) -> Run:
    """Run one tool, then score what it wrote to ``predictions``; failures become a Run with the error."""
    run = Run(tool, records)
    log = scratch / f"{tool}.stdout"
    code, run.seconds, run.peak_mb, tail = measured(
        command, predictions if tool == "opsgate" else log, scratch, timeout
    )
    if code != 0:
        run.error = f"exit {code}: {tail}"
        return run
    try:
        run.scores, run.emitted, run.ok = score(scorer, truth, predictions), count_lines(predictions), True
    except (subprocess.CalledProcessError, OSError, ValueError) as error:
        run.error = f"scoring failed: {error}"
    return run


def opsgate_dedupe(file: Path, id_column: str) -> list[str]:
    """The command whose output the contract defines."""
    return [*opsgate_command(), "dedupe", str(file), "--id-column", id_column, "--json"]


def splink_dedupe(file: Path, id_column: str, kind: str, out: Path, columns: str = "") -> list[str]:
    """The Splink baseline on the same file; ``columns`` maps its column names to the file's (see splink_baseline.py)."""
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "splink_baseline.py"),
        str(file),
        "--id-column",
        id_column,
        "--kind",
        kind,
        "--out",
        str(out),
    ]
    return [*command, "--columns", columns] if columns else command


def blocking(file: Path, id_column: str, truth: Path, timeout: float) -> None:
    """Blocking recall and pair share of the candidates opsgate would score on ``file``."""
    command = [
        sys.executable,
        str(REPO / "benchmarks" / "blocking_recall.py"),
        str(file),
        "--id-column",
        id_column,
        "--truth",
        str(truth),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{'':>10} blocking FAILED: timed out after {timeout:.0f} s", flush=True)
        return
    tail = (done.stdout if done.returncode == 0 else done.stderr).strip().splitlines()[-1:] or ["no output"]
    print(f"{'':>10} blocking {tail[0]}", flush=True)


def labelled_inputs(source: Path, scratch: Path, id_column: str, label_column: str) -> tuple[Path, Path, int]:
    """A copy of ``source`` without its label column (so no label leaks) and the truth pairs, every pair of ids
    sharing a label; returns (file, truth, rows)."""
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    label, ident = header.index(label_column), header.index(id_column)
    unlabelled = scratch / source.name
    with unlabelled.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerows([[v for i, v in enumerate(row) if i != label] for row in rows])
    groups: dict[str, list[str]] = {}
    for row in body:
        groups.setdefault(row[label], []).append(row[ident])
    truth = scratch / f"{source.stem}_true_pairs.csv"
    with truth.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b"])
        writer.writerows(pair for ids in groups.values() for pair in itertools.combinations(ids, 2))
    return unlabelled, truth, len(body)


def febrl_truth(source: Path, scratch: Path) -> Path:
    """febrl3's pairs with the header a,b that the contract uses."""
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    truth = scratch / "febrl3_true_pairs.csv"
    with truth.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["a", "b"], *rows[1:]])
    return truth


def header(label: str) -> None:
    """Column titles of the results table."""
    print(
        f"{label:>10} {'tool':8} {'seconds':>9} {'records/s':>10} {'peak MB':>8} {'precision':>9} {'recall':>7} {'F1':>6} {'queue_rec':>9} {'pairs':>9}"
    )


def row(run: Run) -> None:
    """One line per run, printed as soon as it is done; a failure with its reason."""
    if not run.ok:
        print(f"{run.records:>10} {run.tool:8} FAILED after {run.seconds:.1f} s: {run.error}", flush=True)
        return
    s = run.scores
    print(
        f"{run.records:>10} {run.tool:8} {run.seconds:>9.2f} {run.records / run.seconds:>10,.0f} {run.peak_mb:>8.0f} "
        f"{s.get('precision', 0):>9.3f} {s.get('recall', 0):>7.3f} {s.get('f1', 0):>6.3f} {s.get('queue_recall', 0):>9.3f} {run.emitted:>9}",
        flush=True,
    )


def compare(runs: list[Run]) -> None:
    """Per size: how many times longer Splink takes, and how much better opsgate's F1 is."""
    by_size: dict[int, dict[str, Run]] = {}
    for run in runs:
        by_size.setdefault(run.records, {})[run.tool] = run
    for size, tools in by_size.items():
        ours, theirs = tools.get("opsgate"), tools.get("splink")
        if ours and theirs and ours.ok and theirs.ok:
            print(
                f"size={size} time_ratio_splink_over_opsgate={theirs.seconds / ours.seconds:.2f} "
                f"memory_ratio_splink_over_opsgate={theirs.peak_mb / max(ours.peak_mb, 1):.2f} "
                f"f1_opsgate_minus_splink={ours.scores.get('f1', 0) - theirs.scores.get('f1', 0):+.3f}"
            )


# Per public set: file, id column, label column (None: truth in a file of its own), Splink's kind and its column names.
PUBLIC_SETS = {
    "chicago": (
        "chicago_early_learning_sites.csv",
        "Id",
        "True Id",
        "company",
        "company_name=Site name,address=Address,postcode=Zip,phone=Phone",
    ),
    "febrl3": ("febrl3.csv", "rec_id", None, "person", "address=address_1,city=suburb"),
    "fake_1000": ("fake_1000.csv", "unique_id", "cluster", "person", "given_name=first_name,date_of_birth=dob"),
}


def public_sets(data: Path, scorer: Path, scratch: Path, timeout: float, with_splink: bool) -> None:
    """opsgate and Splink on the public sets with ground truth."""
    records = data / "records"
    for name, (source, id_column, label, kind, columns) in PUBLIC_SETS.items():
        if label:
            file, truth, rows = labelled_inputs(records / source, scratch, id_column, label)
        else:
            file, truth, rows = (
                records / source,
                febrl_truth(records / "febrl3_true_pairs.csv", scratch),
                count_lines_csv(records / source),
            )
        print(f"== {name}: {rows} records, {count_lines_csv(truth)} true pairs")
        header("records")
        runs = [
            run_tool(
                "opsgate",
                opsgate_dedupe(file, id_column),
                rows,
                truth,
                scratch / f"{name}.jsonl",
                scorer,
                scratch,
                timeout,
            )
        ]
        row(runs[-1])
        if runs[-1].ok:
            print(f"flagged={int(runs[-1].scores.get('flagged', 0))} review={int(runs[-1].scores.get('review', 0))}")
        if with_splink:
            out = scratch / f"{name}.splink.jsonl"
            runs.append(
                run_tool(
                    "splink",
                    splink_dedupe(file, id_column, kind, out, columns),
                    rows,
                    truth,
                    out,
                    scorer,
                    scratch,
                    timeout,
                )
            )
            row(runs[-1])
            compare(runs)
        blocking(file, id_column, truth, timeout)
        print()


def count_lines_csv(path: Path) -> int:
    """Records in a CSV file (rows after the header; quoted line breaks handled)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def synthetic_sets(sizes: list[int], kind: str, with_splink: bool, scorer: Path, scratch: Path, timeout: float) -> None:
    """opsgate and Splink on the same generated files, one size after another."""
    runs: list[Run] = []
    print(f"== synthetic {kind} records (benchmarks/record_generator.py, seed 1)")
    header("records")
    for size in sizes:
        folder = scratch / f"{kind}-{size}"
        records, pairs = generate(size, kind, seed=1)
        file = write(records, pairs, folder, "csv")
        truth = folder / "true_pairs.csv"
        print(f"{size:>10} {'truth':8} {len(pairs)} true pairs", flush=True)
        del records, pairs
        blocking(file, "id", truth, timeout)
        runs.append(
            run_tool(
                "opsgate", opsgate_dedupe(file, "id"), size, truth, folder / "opsgate.jsonl", scorer, scratch, timeout
            )
        )
        row(runs[-1])
        if with_splink:
            out = folder / "splink.jsonl"
            runs.append(
                run_tool("splink", splink_dedupe(file, "id", kind, out), size, truth, out, scorer, scratch, timeout)
            )
            row(runs[-1])
        shutil.rmtree(folder)  # a million records is a few hundred MB on disk; keep one size at a time
    compare(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated numbers of synthetic records")
    parser.add_argument("--kind", choices=["person", "company"], default="person")
    parser.add_argument("--no-splink", action="store_true", help="run opsgate only")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument(
        "--bench", type=Path, default=REPO.parent / "shared" / "bench", help="the folder of the scorers"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds before a tool run is stopped and reported as failed"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with_splink = not args.no_splink
    if with_splink and importlib.util.find_spec("splink") is None:
        print("splink is not installed (run with `uv run --group bench`); running opsgate only\n")
        with_splink = False
    scorer = args.bench / "score_pairs.py"
    with tempfile.TemporaryDirectory(prefix="opsgate-dedupe-bench-") as scratch:
        public_sets(args.data, scorer, Path(scratch), args.timeout, with_splink)
        synthetic_sets(sizes, args.kind, with_splink, scorer, Path(scratch), args.timeout)


if __name__ == "__main__":
    main()
