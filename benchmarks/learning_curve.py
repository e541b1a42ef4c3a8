"""What the vendor memory adds on the SROIE receipts, counted by the shared invoice scorer.

    python3 -m uv run python benchmarks/learning_curve.py [--data DIR] [--bench DIR] [--database-url URL]

1. Split: the receipts are grouped by shop (the normalised company entity); the first half of each
   shop's receipts (rounded down, so a shop with one receipt has none) is history, the rest held out.
2. History: written as an ``opsgate history import`` file and imported through the command's own
   path (reading, checks, the rules' reading for what people corrected) into a fresh store.
3. Held out: read cold (the rules) and with the stored memory; scored by ``score_invoices.py sroie``
   over all held-out receipts, and over those whose shop has history.
4. Learning curve: every receipt in file order is read with what was approved before it, then
   approved (learnt with its true values); accuracy of a shop's k-th receipt, k = 1..5+, with counts.

Prints the data size with every figure, and seconds per receipt with and without memory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tasks.invoice_extraction.extracting import extract_document
from tasks.invoice_extraction.learning import LearntDocument, learn
from tasks.invoice_extraction.memory import Memory, with_memory
from tasks.invoice_extraction.models import Extraction, InvoiceFields
from tasks.invoice_extraction.parsing import parse_amount, parse_date

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ["invoice_number", "invoice_date", "currency", "total"]


def shop(receipt: dict[str, Any]) -> str:
    return re.sub(r"[^0-9A-Z]", "", str(receipt["entities"].get("company", "")).upper())


def approved(entities: dict[str, str]) -> dict[str, Any]:
    """The receipt's labels as the values people approved, typed as ``opsgate extract`` prints them."""
    fields: dict[str, Any] = {
        "vendor_name": entities.get("company") or None,
        "vendor_address": entities.get("address") or None,
    }
    day = parse_date(entities.get("date", ""), dayfirst=True)
    amount = parse_amount(entities.get("total", "")) if entities.get("total") else None
    fields["invoice_date"] = day.isoformat() if day else None
    fields["total"] = str(amount) if amount is not None else None
    return {k: v for k, v in fields.items() if v is not None}


def score(
    scorer: Path, scratch: Path, name: str, receipts: list[dict[str, Any]], results: dict[str, Extraction]
) -> str:
    """The scorer's mean field accuracy over ``receipts``, and its per-field lines."""
    truth = scratch / f"{name}_truth.json"
    truth.write_text(json.dumps({f"{r['key']}.txt": r["entities"] for r in receipts}))
    lines = "\n".join(results[r["key"]].model_dump_json() for r in receipts) + "\n"
    scored = subprocess.run(
        [sys.executable, str(scorer), "sroie", str(truth), "-"], input=lines, capture_output=True, text=True, check=True
    )
    return scored.stdout.rstrip()


def mean(scored: str) -> str:
    return scored.splitlines()[-1].split("=")[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument(
        "--bench", type=Path, default=REPO.parent / "shared" / "bench", help="the folder of the scorers"
    )
    parser.add_argument(
        "--database-url", default=None, help="the store to import into; a fresh SQLite file when omitted"
    )
    args = parser.parse_args()
    scorer = args.bench / "score_invoices.py"
    receipts = [
        json.loads(line)
        for line in (args.data / "invoices" / "sroie" / "sroie_train_text_labels.jsonl").read_text().splitlines()
        if line.strip()
    ]

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        os.environ["OPSGATE_DATA_DIR"] = str(scratch / "data")
        os.environ["OPSGATE_DATABASE_URL"] = args.database_url or f"sqlite:///{scratch / 'opsgate.db'}"
        from tasks.invoice_extraction import history  # after the store is chosen: settings are read once
        from tasks.invoice_extraction.history_commands import import_lines

        folder = scratch / "receipts"
        folder.mkdir()
        by_shop: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for receipt in receipts:
            (folder / f"{receipt['key']}.txt").write_text(receipt["text"], encoding="utf-8")
            by_shop[shop(receipt)].append(receipt)
        past = [r for group in by_shop.values() for r in group[: len(group) // 2]]
        held_out = [r for group in by_shop.values() for r in group[len(group) // 2 :]]
        with_history = [r for r in held_out if len(by_shop[shop(r)]) > 1]

        start = time.perf_counter()
        cold = {
            r["key"]: extract_document(folder / f"{r['key']}.txt", REQUIRED, source=f"{r['key']}.txt") for r in held_out
        }
        cold_seconds = (time.perf_counter() - start) / len(held_out)

        history_file = scratch / "history.jsonl"
        history_file.write_text(
            "".join(
                json.dumps({"path": f"receipts/{r['key']}.txt", "fields": approved(r["entities"])}) + "\n" for r in past
            )
        )
        start = time.perf_counter()
        documents, problems = import_lines(history_file, scratch)
        imported = history.add_all(documents)
        memory = history.load()
        import_seconds = time.perf_counter() - start
        assert memory is not None and not problems, problems
        start = time.perf_counter()
        warm = {key: with_memory(extraction, memory) for key, extraction in cold.items()}
        warm_seconds = (time.perf_counter() - start) / len(held_out)

        print(
            f"== SROIE: {len(receipts)} receipts, {len(by_shop)} shops; history {imported} receipts imported in {import_seconds:.1f} s "
            f"({memory.version}, {len(memory.vendors)} vendors); held out {len(held_out)}, of shops with history {len(with_history)}"
        )
        for name, chosen in (("held out, all", held_out), ("held out, shops with history", with_history)):
            cold_scored, warm_scored = (
                score(scorer, scratch, "cold", chosen, cold),
                score(scorer, scratch, "warm", chosen, warm),
            )
            print(f"-- {name} ({len(chosen)} receipts): cold {mean(cold_scored)}, with history {mean(warm_scored)}")
            for cold_line, warm_line in zip(cold_scored.splitlines()[:-2], warm_scored.splitlines()[:-2], strict=True):
                print(f"   {cold_line}   |   with history {warm_line.split()[-1]}")
        notes = sum(1 for e in warm.values() if e.notices)
        print(f"receipts with a memory/rules disagreement shown: {notes} of {len(held_out)}")
        print(f"seconds per receipt: rules {cold_seconds:.4f}, memory on top {warm_seconds:.4f}\n")

        print("== learning curve: each receipt read with everything approved before it, then approved")
        learnt: list[LearntDocument] = []
        seen: dict[str, int] = defaultdict(int)
        buckets: dict[str, list[dict[str, Any]]] = defaultdict(list)
        results: dict[str, Extraction] = {}
        for receipt in receipts:
            k = seen[shop(receipt)] + 1
            seen[shop(receipt)] = k
            read = (
                cold[receipt["key"]]
                if receipt["key"] in cold
                else extract_document(folder / f"{receipt['key']}.txt", REQUIRED, source=f"{receipt['key']}.txt")
            )
            results[receipt["key"]] = with_memory(read, Memory.of(f"stream.{len(learnt)}", learnt) if learnt else None)
            buckets[str(k) if k < 5 else "5+"].append(receipt)
            learnt.append(
                learn(receipt["text"], InvoiceFields.model_validate(approved(receipt["entities"])), read.fields)
            )
        for k in ("1", "2", "3", "4", "5+"):
            print(
                f"k={k:>2}: {len(buckets[k]):4d} receipts, mean field accuracy {mean(score(scorer, scratch, f'k{k}', buckets[k], results))}"
            )


if __name__ == "__main__":
    main()
