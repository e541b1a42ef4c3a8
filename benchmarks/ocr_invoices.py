"""OCR accuracy and speed against the text layer, on the public invoice PDFs, counted by the scorers
that define accuracy for opsgate.

    python3 -m uv run python benchmarks/ocr_invoices.py [--data DIR] [--bench DIR] [--dpi 200] [--limit N]

Each PDF of the ZUGFeRD set (read without its embedded XML) and of the invoice2data set is read
three ways through the normal extraction path (``extract_document``, rules backend):

- ``text layer``: the PDF itself;
- ``ocr``: its pages rasterised at ``--dpi`` into an image file (a PNG, or a multi-page TIFF),
  read by OCR;
- ``scan``: the same image made to look scanned: turned by a fraction of a degree, grain added,
  saved as JPEG at quality 60 (a JPEG-compressed TIFF for several pages).

Prints, per set, the scorer's per-field accuracy for each way, a side-by-side line of
``mean_field_accuracy`` and the gap to the text layer, and the OCR speed: documents and pages per
minute of wall-clock time and per CPU minute (this process and the tesseract processes it runs,
one thread each: a reader is one core). Targets: OCR within 0.03 of the text layer, 20 documents
per minute per core.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageFilter

from tasks.invoice_extraction.extracting import extract_document

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ["invoice_number", "invoice_date", "currency", "total"]


def rasterise(pdf: Path, dpi: int) -> list[Image.Image]:
    """The PDF's pages as grey images at ``dpi`` (what a scanner at that resolution would see)."""
    document = pdfium.PdfDocument(pdf.read_bytes())
    try:
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for i in range(len(document))]
    finally:
        document.close()


def save_image(pages: list[Image.Image], folder: Path, stem: str, dpi: int) -> Path:
    """One page as PNG, several as a multi-page TIFF (LZW)."""
    if len(pages) == 1:
        path = folder / f"{stem}.png"
        pages[0].save(path, dpi=(dpi, dpi))
    else:
        path = folder / f"{stem}.tiff"
        pages[0].save(path, save_all=True, append_images=pages[1:], compression="tiff_lzw", dpi=(dpi, dpi))
    return path


def scanned(page: Image.Image, rng: random.Random) -> Image.Image:
    """The page as a flatbed scan might give it: slightly turned, soft, with grain."""
    turned = page.rotate(rng.uniform(-1.0, 1.0), resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    soft = turned.filter(ImageFilter.GaussianBlur(0.6))
    grain = Image.effect_noise(soft.size, 12)  # Gaussian around 128
    return ImageChops.add(soft, grain, scale=1.0, offset=-128)


def save_scan(pages: list[Image.Image], folder: Path, stem: str, dpi: int, rng: random.Random) -> Path:
    """The scanned-looking pages as JPEG (quality 60), several as a JPEG-compressed TIFF."""
    pages = [scanned(page, rng) for page in pages]
    if len(pages) == 1:
        path = folder / f"{stem}.jpg"
        pages[0].save(path, quality=60, dpi=(dpi, dpi))
    else:
        path = folder / f"{stem}.tiff"
        pages[0].save(path, save_all=True, append_images=pages[1:], compression="jpeg", quality=60, dpi=(dpi, dpi))
    return path


def extract(documents: list[Path], **options: bool) -> tuple[list[str], float, float]:
    """JSON lines of the extractions, wall seconds and CPU seconds (this process and its children)."""
    cpu_before = _cpu()
    start = time.perf_counter()
    lines = [extract_document(path, REQUIRED, source=str(path), **options).model_dump_json() for path in documents]
    return lines, time.perf_counter() - start, _cpu() - cpu_before


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def score(kind: str, truth: Path, lines: list[str], scorer: Path) -> tuple[str, float]:
    scored = subprocess.run(
        [sys.executable, str(scorer), kind, str(truth), "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    accuracy = float(re.search(r"mean_field_accuracy=([0-9.]+)", scored.stdout).group(1))  # type: ignore[union-attr]
    return scored.stdout.rstrip(), accuracy


def run_set(
    label: str, kind: str, pdfs: list[Path], truth: Path, scorer: Path, scratch: Path, dpi: int, **options: bool
) -> None:
    images, scans, pages = scratch / f"{kind}-images", scratch / f"{kind}-scans", 0
    images.mkdir()
    scans.mkdir()
    rng = random.Random(20261205)  # the same "scans" every run
    ocr_documents, scan_documents = [], []
    for pdf in pdfs:
        rendered = rasterise(pdf, dpi)
        pages += len(rendered)
        ocr_documents.append(save_image(rendered, images, pdf.stem, dpi))
        scan_documents.append(save_scan(rendered, scans, pdf.stem, dpi, rng))

    results: dict[str, float] = {}
    print(f"== {label}: {len(pdfs)} documents, {pages} pages, images at {dpi} dpi")
    ways: list[tuple[str, list[Path], dict[str, bool]]] = [
        ("text layer", pdfs, options),
        ("ocr", ocr_documents, {}),
        ("scan", scan_documents, {}),
    ]
    for way, documents, way_options in ways:
        lines, wall, cpu = extract(documents, **way_options)
        report, results[way] = score(kind, truth, lines, scorer)
        escalated = sum('"needs_ocr"' in line for line in lines)
        print(f"-- {way}: needs_ocr={escalated}")
        print(report)
        if way != "text layer":
            print(
                f"wall_seconds={wall:.1f} cpu_seconds={cpu:.1f} documents_per_minute={60 * len(documents) / wall:.1f} "
                f"documents_per_cpu_minute={60 * len(documents) / cpu:.1f} pages_per_cpu_minute={60 * pages / cpu:.1f}"
            )
    print(
        f"SIDE BY SIDE {label}: text_layer={results['text layer']:.3f} ocr={results['ocr']:.3f} (gap {results['text layer'] - results['ocr']:+.3f}) "
        f"scan={results['scan']:.3f} (gap {results['text layer'] - results['scan']:+.3f})\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument(
        "--bench", type=Path, default=REPO.parent / "shared" / "bench", help="the folder of the scorers"
    )
    parser.add_argument("--dpi", type=int, default=200, help="resolution the pages are rasterised at")
    parser.add_argument("--limit", type=int, default=0, help="read only the first N documents of each set (0: all)")
    args = parser.parse_args()
    scorer = args.bench / "score_invoices.py"

    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        compare = args.data / "invoices" / "invoice2data_compare"
        pdfs = sorted(compare.glob("*.pdf"))[: args.limit or None]
        truth = {}
        for pdf in pdfs:
            value = json.loads(pdf.with_suffix(".json").read_text())
            truth[pdf.name] = value[0] if isinstance(value, list) else value
        compare_truth = scratch / "invoice2data_truth.json"
        compare_truth.write_text(json.dumps(truth))
        run_set("invoice2data", "invoice2data", pdfs, compare_truth, scorer, scratch, args.dpi)

        zugferd = args.data / "invoices" / "zugferd"
        pdfs = sorted(zugferd.glob("*.pdf"))[: args.limit or None]
        truth = {pdf.name: json.loads(pdf.with_name(pdf.stem + ".groundtruth.json").read_text()) for pdf in pdfs}
        zugferd_truth = scratch / "zugferd_truth.json"
        zugferd_truth.write_text(json.dumps(truth))
        run_set(
            "zugferd, printed text", "zugferd", pdfs, zugferd_truth, scorer, scratch, args.dpi, use_embedded_xml=False
        )


if __name__ == "__main__":
    main()
