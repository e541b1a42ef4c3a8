"""Request triage on a routed set with a train/test split, through the commands people run.

    python3 -m uv run python benchmarks/triage_requests.py [--data DIR] [--shots 10] [--repeat 2] [--escalate-at-most 0.04]

Defaults to the banking77 requests (``requests/banking77/{train,test}.csv``, columns ``text`` and
``category``). Each step is the whole command, in its own process, on a fresh SQLite store:

1. ``opsgate triage train --history train.csv`` (the category as the ``queue`` column): seconds.
2. ``opsgate triage test.csv --json``: requests per second (best of --repeat runs after one warm-up,
   so Python's compiled bytecode is in place as in an installed package), then accuracy (a
   request escalated as out of scope has no queue and counts as wrong), and the share of requests
   that can be routed at 99 % precision by confidence, with the confidence line that gives it.
3. The same with only --shots training requests per queue (the first ones in the file).
4. Out of scope: trained without --unseen of the queues (every k-th by name), tested on the whole
   test set: the share of the unseen queues' requests escalated as ``out_of_scope`` (they fit no
   queue the model knows), and the share of the known queues' requests escalated so by mistake;
   and of ``OFF_TOPIC``, requests about something else altogether (written for this benchmark,
   none from any request set), the share escalated as ``out_of_scope``.
5. Routed nowhere: the same queues' training requests kept in the history, marked ``out_of_scope``
   (as a team marks spam or another desk's mail), tested the same way.

Prints the data size with every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRECISION = 0.99
# Requests a team's mailbox gets that belong to none of its queues: other subjects, other desks.
OFF_TOPIC = [
    "What will the weather be like in Lisbon on Saturday?",
    "Who won the football match last night?",
    "Can you recommend a good recipe for lasagne?",
    "How tall is the Eiffel Tower?",
    "Tell me a joke about penguins",
    "What time does the cinema on Main Street open?",
    "The sink in the second-floor kitchen is leaking again",
    "Book me a table for four at an Italian restaurant tonight",
    "My cat keeps sneezing, should I take her to the vet?",
    "What is the capital of Australia?",
    "Please translate 'good morning' into Japanese",
    "How do I install Python on a Windows laptop?",
    "The printer on the third floor is jammed",
    "Could you send me the minutes of yesterday's team meeting?",
    "I would like to book two weeks of annual leave in August",
    "Is the office car park closed for resurfacing next week?",
    "Which song was number one in 1985?",
    "How many calories are in a banana?",
    "Can you help me write a poem for my grandmother's birthday?",
    "What is the best way to learn the guitar as an adult?",
    "The air conditioning in meeting room B is far too cold",
    "How do I renew my passport?",
    "Where can I buy tickets for the museum exhibition?",
    "My neighbour's dog barks all night, what can I do?",
    "Explain the rules of cricket to me",
    "Our team needs a new whiteboard for the project room",
    "What's a good name for a goldfish?",
    "When does daylight saving time start this year?",
    "Please reserve the large conference room for Thursday at 10",
    "How long should I boil an egg for a soft yolk?",
]


def _write(rows: list[dict[str, str]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "queue"])
        for i, row in enumerate(rows):
            writer.writerow([f"r{i}", row["text"], row["category"]])


def _opsgate(args: list[str], env: dict[str, str]) -> tuple[str, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "opsgate"), *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"opsgate {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout, seconds


def coverage_at(precision: float, results: list[tuple[float, bool]]) -> tuple[float, float | None]:
    """The largest share of requests, most confident first, whose queues are right at ``precision``
    or better, and the confidence of the last one taken (the line a policy would route at)."""
    ranked = sorted(results, key=lambda r: -r[0])
    right, best, line = 0, 0, None
    for n, (confidence, correct) in enumerate(ranked, start=1):
        right += correct
        if right / n >= precision and (n == len(ranked) or ranked[n][0] < confidence):
            best, line = n, confidence
    return best / len(ranked), line


def run(
    train: list[dict[str, str]], test: list[dict[str, str]], label: str, repeat: int, options: list[str]
) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        env = {
            **os.environ,
            "OPSGATE_DATABASE_URL": f"sqlite:///{folder / 'opsgate.db'}",
            "OPSGATE_DATA_DIR": str(folder / "data"),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        _write(train, folder / "train.csv")
        _write(test, folder / "test.csv")
        queues = len({r["category"] for r in train})
        version, train_seconds = _opsgate(["triage", "train", "--history", str(folder / "train.csv"), *options], env)
        _opsgate(["triage", str(folder / "test.csv"), "--json"], env)  # warm-up: bytecode compiled
        runs = [_opsgate(["triage", str(folder / "test.csv"), "--json"], env) for _ in range(repeat)]
        output, seconds = min(runs, key=lambda r: r[1])
    truth = {f"r{i}": row["category"] for i, row in enumerate(test)}
    answers = [json.loads(line) for line in output.splitlines()]
    results = [(a["confidence"] or 0.0, a["queue"] == truth[a["id"]]) for a in answers]
    accuracy = sum(correct for _, correct in results) / len(results)
    out_of_scope = sum(1 for a in answers if any(e["reason"] == "out_of_scope" for e in a["escalations"]))
    share, line = coverage_at(PRECISION, results)
    print(f"== {label}: trained on {len(train):,} requests in {queues} queues, tested on {len(test):,}")
    print(f"model {version.strip()}; training {train_seconds:.1f} s (whole command)")
    given = [a["queue"] == truth[a["id"]] for a in answers if a["queue"] is not None]
    print(
        f"accuracy {accuracy:.3f} ({sum(c for _, c in results):,}/{len(results):,}); escalated as out of scope "
        f"{out_of_scope}; right where a queue was given {sum(given) / max(len(given), 1):.3f} ({len(given):,})"
    )
    print(
        f"routable at {PRECISION:.0%} precision: {share:.3f} of requests"
        + (f" (confidence >= {line:.3f})" if line is not None else "")
    )
    print(
        f"triage: {seconds:.2f} s for {len(test):,} requests = {len(test) / seconds:.0f} requests/s (whole command)\n"
    )
    return answers


def out_of_scope(
    train: list[dict[str, str]], test: list[dict[str, str]], unseen: int, label: str, marked: bool, options: list[str]
) -> None:
    """Requests of ``unseen`` queues in the test: their queues left out of the history, or, where
    ``marked``, their training requests kept in it, marked routed nowhere."""
    queues = sorted({r["category"] for r in train})
    hidden = set(queues[:: max(1, len(queues) // unseen)][:unseen])
    off_topic = [{"text": text, "category": "(off topic)"} for text in OFF_TOPIC]
    tested = test + off_topic
    if marked:
        history = [{**r, "category": "out_of_scope"} if r["category"] in hidden else r for r in train]
        title = f"{label}, {len(hidden)} queues' requests marked out_of_scope in the history"
    else:
        history, title = [r for r in train if r["category"] not in hidden], f"{label}, {len(hidden)} queues unseen"
    answers = run(history, tested, title, 1, options)
    flagged = [any(e["reason"] == "out_of_scope" for e in a["escalations"]) for a in answers]  # type: ignore[union-attr]
    unknown = [f for f, row in zip(flagged, tested, strict=True) if row["category"] in hidden]
    known = [f for f, row in zip(flagged[: len(test)], test, strict=True) if row["category"] not in hidden]
    other = flagged[len(test) :]
    print(
        f"out of scope: {sum(unknown)}/{len(unknown)} = {sum(unknown) / len(unknown):.3f} of the unseen queues' "
        f"requests escalated as out_of_scope; {sum(other)}/{len(other)} of the off-topic requests; "
        f"{sum(known)}/{len(known)} = {sum(known) / len(known):.3f} of the known queues' by mistake\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "requests" / "banking77")
    parser.add_argument("--shots", type=int, default=10, help="training requests per queue for the few-shot run")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--unseen", type=int, default=10, help="queues left out of training for the out-of-scope run")
    parser.add_argument(
        "--escalate-at-most", help="passed to `opsgate triage train`: the share the out-of-scope lines may escalate"
    )
    args = parser.parse_args()
    options = ["--escalate-at-most", args.escalate_at_most] if args.escalate_at_most else []
    train = list(csv.DictReader((args.data / "train.csv").open(encoding="utf-8")))
    test = list(csv.DictReader((args.data / "test.csv").open(encoding="utf-8")))
    run(train, test, args.data.name, args.repeat, options)
    by_queue: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in train:
        if len(by_queue[row["category"]]) < args.shots:
            by_queue[row["category"]].append(row)
    few = [r for rows in by_queue.values() for r in rows]
    run(few, test, f"{args.data.name}, {args.shots} per queue", args.repeat, options)
    out_of_scope(train, test, args.unseen, args.data.name, marked=False, options=options)
    out_of_scope(train, test, args.unseen, args.data.name, marked=True, options=options)


if __name__ == "__main__":
    main()
