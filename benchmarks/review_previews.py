"""Speed of the review screen's previews for one page of proposals: finding each proposed value in
its PDF, and the page pictures, through the isolated reader processes.

    python3 -m uv run python benchmarks/review_previews.py [--documents 25] [--width 900]

Builds ``--documents`` invoice PDFs (the three sample layouts, numbers varied) in a temporary
folder, with the values an extraction proposes for each, and measures with one ``Previewer``:
locating all values cold (worker processes starting) and warm, one call per proposal and one
``locate_many`` for the page; rendering every first page at ``--width`` pixels cold (no cached
picture; one request at a time, and six at once as a browser asks) and warm (cached). Prints the
data size, seconds and per-document milliseconds.
Goal: a page of 25 proposals with its previews in under a second, warm.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.pdf_builder import text_pdf  # noqa: E402
from tests.support.samples import DE_INVOICE, UK_INVOICE, US_INVOICE  # noqa: E402

# What an extraction proposes for each sample layout; "{n}" is the document's number.
LAYOUTS = [
    (
        US_INVOICE,
        "0317",
        {
            "vendor_name": "Brightline Office Supply LLC",
            "invoice_number": "BOS-24-{n}",
            "invoice_date": "2024-03-15",
            "due_date": "2024-04-14",
            "po_number": "PO-55821",
            "subtotal": "1132.00",
            "tax": "90.56",
            "total": "1222.56",
            "currency": "USD",
        },
    ),
    (
        DE_INVOICE,
        "0815",
        {
            "vendor_name": "Nordlicht Technik GmbH",
            "invoice_number": "NT-2024-{n}",
            "invoice_date": "2024-02-05",
            "due_date": "2024-03-06",
            "subtotal": "1255.00",
            "tax": "238.45",
            "total": "1493.45",
            "currency": "EUR",
        },
    ),
    (
        UK_INVOICE,
        "1187",
        {
            "vendor_name": "Harrowgate Print & Design Ltd",
            "invoice_number": "HPD-{n}",
            "invoice_date": "2024-04-12",
            "due_date": "2024-05-12",
            "subtotal": "640.00",
            "tax": "128.00",
            "total": "768.00",
            "currency": "GBP",
        },
    ),
]


def make_page(folder: Path, count: int) -> list[tuple[Path, dict[str, object]]]:
    """``count`` invoice PDFs and the values proposed for each."""
    proposals = []
    for i in range(count):
        lines, number, values = LAYOUTS[i % len(LAYOUTS)]
        path = folder / f"invoice-{i:03d}.pdf"
        path.write_bytes(text_pdf([line.replace(number, f"{i:04d}") for line in lines]))
        proposals.append((path, {field: str(value).format(n=f"{i:04d}") for field, value in values.items()}))
    return proposals


def timed(label: str, count: int, work: object) -> object:
    start = time.perf_counter()
    result = work()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    print(f"{label}: documents={count} seconds={seconds:.3f} ms_per_document={seconds / count * 1000:.1f}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=25)
    parser.add_argument("--width", type=int, default=900)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="opsgate-bench-"))
    os.environ["OPSGATE_DATA_DIR"] = str(scratch / "data")

    from opsgate.settings import get_settings
    from opsgate.web.previews import Previewer

    proposals = make_page(scratch, args.documents)
    paths = [path for path, _ in proposals]
    n = len(proposals)
    looked_for = sum(len(values) for _, values in proposals)
    print(
        f"data: documents={n} pages={n} pdf_kb={sum(p.stat().st_size for p in paths) / 1e3:.0f} "
        f"values_looked_for={looked_for} reader_workers={get_settings().reader_workers}"
    )

    start = time.perf_counter()
    with Previewer() as previewer:
        found = previewer.locate_many(proposals)
        print(
            f"locate, cold (Previewer opened, workers starting): documents={n} seconds={time.perf_counter() - start:.3f} "
            f"values_found={sum(len(p.boxes) for p in found)}/{looked_for}"
        )
        timed("locate, warm, locate_many for the page", n, lambda: previewer.locate_many(proposals))
        timed("locate, warm, one call per proposal", n, lambda: [previewer.locate(p, v) for p, v in proposals])

        pictures = timed(
            f"render_page width={args.width}, cold (no cache), one at a time",
            n,
            lambda: [previewer.render_page(path, 0, args.width) for path in paths],
        )
        print(f"  pictures: png_kb={sum(len(png) for png in pictures) / 1e3:.0f} (cached under data_dir/previews)")
        timed(
            f"render_page width={args.width}, warm (cached), one at a time",
            n,
            lambda: [previewer.render_page(path, 0, args.width) for path in paths],
        )
        with ThreadPoolExecutor(max_workers=6) as browser:
            timed(
                f"render_page width={args.width + 1}, cold (no cache), six requests at once",
                n,
                lambda: list(browser.map(lambda path: previewer.render_page(path, 0, args.width + 1), paths)),
            )
            timed(
                f"render_page width={args.width + 1}, warm (cached), six requests at once",
                n,
                lambda: list(browser.map(lambda path: previewer.render_page(path, 0, args.width + 1), paths)),
            )


if __name__ == "__main__":
    main()
