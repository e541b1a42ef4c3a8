"""Extraction accuracy and speed of the rules backend on the public invoice sets, counted by the
scorers that define accuracy for opsgate.

    python3 -m uv run python benchmarks/extract_invoices.py [--data DIR] [--bench DIR] [--repeat N]

ZUGFeRD is run three times: from the embedded XML, from the PDF's text layer alone, and from the
`pdftotext -layout` text of the same files (where poppler's pdftotext is installed).
Prints, per set, the scorer's per-field accuracy, then the number of documents, seconds per pass
and documents per second (mean of --repeat passes, single process).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tasks.invoice_extraction.extracting import extract_document

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ["invoice_number", "invoice_date", "currency", "total"]


def run_set(
    kind: str, truth: Path, documents: list[Path], scorer: Path, repeat: int, label: str = "", **options: bool
) -> None:
    start = time.perf_counter()
    for _ in range(repeat):
        lines = [extract_document(path, REQUIRED, source=str(path), **options).model_dump_json() for path in documents]
    seconds = (time.perf_counter() - start) / repeat
    scored = subprocess.run(
        [sys.executable, str(scorer), kind, str(truth), "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"== {label or kind}: {len(documents)} documents")
    print(scored.stdout.rstrip())
    print(f"seconds_per_pass={seconds:.3f} documents_per_second={len(documents) / seconds:.1f}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument(
        "--bench", type=Path, default=REPO.parent / "shared" / "bench", help="the folder of the scorers"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scorer = args.bench / "score_invoices.py"

    compare = args.data / "invoices" / "invoice2data_compare"
    run_set("invoice2data", compare, sorted(compare.glob("*.pdf")) + [compare / "Orlen.txt"], scorer, args.repeat)

    zugferd = args.data / "invoices" / "zugferd"
    truth = {
        p.name.replace(".groundtruth.json", ".pdf"): json.loads(p.read_text())
        for p in sorted(zugferd.glob("*.groundtruth.json"))
    }
    with tempfile.TemporaryDirectory() as scratch:
        truth_file = Path(scratch) / "zugferd_truth.json"
        truth_file.write_text(json.dumps(truth))
        run_set("zugferd", truth_file, sorted(zugferd.glob("*.pdf")), scorer, args.repeat, "zugferd, embedded XML")
        run_set(
            "zugferd",
            truth_file,
            sorted(zugferd.glob("*.pdf")),
            scorer,
            args.repeat,
            "zugferd, text layer only",
            use_embedded_xml=False,
        )
        if shutil.which("pdftotext"):  # the same pages as layout text, the way an OCR engine or poppler prints them
            layout = Path(scratch) / "zugferd_layout"
            layout.mkdir()
            for pdf in sorted(zugferd.glob("*.pdf")):
                subprocess.run(
                    ["pdftotext", "-layout", str(pdf), str(layout / f"{pdf.stem}.txt")],
                    check=True,
                    stderr=subprocess.DEVNULL,
                )
            run_set(
                "zugferd",
                truth_file,
                sorted(layout.glob("*.txt")),
                scorer,
                args.repeat,
                "zugferd, pdftotext -layout text",
            )
        else:
            print("== zugferd, pdftotext -layout text: skipped (poppler's pdftotext is not installed)\n")

        receipts = [
            json.loads(line)
            for line in (args.data / "invoices" / "sroie" / "sroie_train_text_labels.jsonl").read_text().splitlines()
            if line.strip()
        ]
        folder = Path(scratch) / "sroie"
        folder.mkdir()
        for receipt in receipts:  # the OCR text of each receipt, as a plain-text document
            (folder / f"{receipt['key']}.txt").write_text(receipt["text"], encoding="utf-8")
        sroie_truth = Path(scratch) / "sroie_truth.json"
        sroie_truth.write_text(json.dumps({f"{r['key']}.txt": r["entities"] for r in receipts}))
        run_set("sroie", sroie_truth, sorted(folder.glob("*.txt")), scorer, args.repeat)


if __name__ == "__main__":
    main()
