"""Previews with real worker processes: values found where the test printed them, pictures of the
width asked for and cached, and every document that cannot be shown turned into a reason.

Expected places come from how the pages are built: ``text_pdf`` writes 11pt lines from 780 pt up
the 842-pt page, 14 pt apart, starting 50 pt from the left of a 595-pt page.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from opsgate.inputs.isolation import MB, Limits
from opsgate.settings import Settings
from opsgate.web import page_reading, previews
from opsgate.web.page_reading import Box, Preview
from opsgate.web.previews import Previewer, PreviewUnavailable
from opsgate.web.printed import value_pattern
from tests.support.pdf_builder import encrypted_pdf, flate_bomb_pdf, image_only_pdf, placed_pdf, text_pdf

PAGE_WIDTH, PAGE_HEIGHT, FIRST_BASELINE, LEADING, MARGIN = 595, 842, 780, 14, 50
LIMITS = Limits(memory_bytes=512 * MB, cpu_seconds=20, wall_seconds=60, output_bytes=16 * MB, workers=2)
INVOICE = [
    "Kestrel Supplies Ltd",
    "Invoice no: INV-2024-0042",
    "Invoice date: 05.03.2024",
    "Due: 4 April 2024",
    "Total EUR 1.234,50",
]


@pytest.fixture(scope="module")
def previewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Previewer]:
    with Previewer(Settings(data_dir=tmp_path_factory.mktemp("data")), LIMITS) as kept:
        yield kept


def _pdf(tmp_path: Path, lines: list[str], name: str = "invoice.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(text_pdf(lines))
    return path


def _line_centre(line: int) -> float:
    """Where the middle of the x-height of ``line`` (0-based) stands, as a fraction from the top."""
    return (PAGE_HEIGHT - (FIRST_BASELINE - LEADING * line) - 3) / PAGE_HEIGHT


def _on_line(box: Box, line: int) -> bool:
    return box.top < _line_centre(line) < box.top + box.height and box.height < LEADING / PAGE_HEIGHT


# -- finding values in a PDF -----------------------------------------------------------------


def test_each_value_is_boxed_on_the_line_it_was_printed_on(previewer: Previewer, tmp_path: Path) -> None:
    lines = INVOICE + [f"filler line {i}" for i in range(30)] + ["PO-7781"]
    preview = previewer.locate(
        _pdf(tmp_path, lines),
        {"vendor_name": "Kestrel Supplies Ltd", "invoice_number": "INV-2024-0042", "po_number": "PO-7781"},
    )

    assert preview.kind == "pdf" and preview.pages == 1 and preview.reason == ""
    (vendor,) = preview.boxes["vendor_name"]
    (number,) = preview.boxes["invoice_number"]
    (po,) = preview.boxes["po_number"]
    assert _on_line(vendor, 0) and _on_line(number, 1) and _on_line(po, len(lines) - 1)
    assert vendor.top < 0.1 and po.top > 0.5
    assert vendor.left == pytest.approx(MARGIN / PAGE_WIDTH, abs=0.005) == po.left
    assert number.left > vendor.left + len("Invoice no: ") * 4 / PAGE_WIDTH, (
        "the box starts at the value, not the label"
    )


def test_a_value_drawn_at_a_place_is_boxed_there(previewer: Previewer, tmp_path: Path) -> None:
    path = tmp_path / "placed.pdf"
    path.write_bytes(placed_pdf([(50, 780, "Invoice"), (400, 100, "Total 88.20")]))
    (box,) = previewer.locate(path, {"total": Decimal("88.20")}).boxes["total"]
    baseline = (PAGE_HEIGHT - 100) / PAGE_HEIGHT
    assert box.left > 400 / PAGE_WIDTH and box.left + box.width < 480 / PAGE_WIDTH
    assert box.top < baseline < box.top + box.height + 0.005


def test_on_a_page_turned_a_quarter_the_box_is_where_the_value_is_shown(previewer: Previewer, tmp_path: Path) -> None:
    """Turned clockwise (/Rotate 90), the first line runs down the right-hand edge of a page shown landscape."""
    document = pdfium.PdfDocument(text_pdf(INVOICE))
    document[0].set_rotation(90)
    turned = io.BytesIO()
    document.save(turned)
    document.close()
    path = tmp_path / "turned.pdf"
    path.write_bytes(turned.getvalue())

    (box,) = previewer.locate(path, {"vendor_name": "Kestrel Supplies Ltd"}).boxes["vendor_name"]
    assert box.height > 5 * box.width, "a line running down the page"
    assert box.top == pytest.approx(MARGIN / PAGE_WIDTH, abs=0.005)
    assert box.left < (FIRST_BASELINE + 3) / PAGE_HEIGHT < box.left + box.width, (
        "the baseline's distance from the page's old bottom"
    )
    assert Image.open(io.BytesIO(previewer.render_page(path, 0, 842))).size == (842, PAGE_WIDTH)


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        ("total", "1234.50", 4),
        ("total", Decimal("1234.5"), 4),
        ("total", 1234.5, 4),
        ("invoice_date", "2024-03-05", 2),
        ("invoice_date", date(2024, 3, 5), 2),
        ("due_date", datetime(2024, 4, 4, 9, 30), 3),
        ("vendor_name", "KESTREL   supplies ltd", 0),
    ],
)
def test_values_are_found_in_the_form_they_are_printed_in(
    previewer: Previewer, tmp_path: Path, field: str, value: object, line: int
) -> None:
    preview = previewer.locate(_pdf(tmp_path, INVOICE), {field: value})
    assert [_on_line(box, line) for box in preview.boxes[field]] == [True]


def test_values_absent_or_not_worth_looking_for_have_no_boxes(previewer: Previewer, tmp_path: Path) -> None:
    values = {"vendor_name": "Harrier Tools GmbH", "total": "99.99", "tax": None, "paid": True, "lines": [1], "x": "K"}
    preview = previewer.locate(_pdf(tmp_path, INVOICE), values)
    assert preview.kind == "pdf" and preview.boxes == {}


def test_every_occurrence_is_boxed_page_by_page_up_to_the_cap(previewer: Previewer, tmp_path: Path) -> None:
    lines = ["Order PO-7781"] + [f"line {i}" for i in range(60)] + ["PO-7781 again"]  # the last on page 2
    preview = previewer.locate(_pdf(tmp_path, lines), {"po_number": "PO-7781", "word": "line"})
    assert preview.pages == 2
    assert [box.page for box in preview.boxes["po_number"]] == [0, 1]
    assert _on_line(preview.boxes["po_number"][0], 0) and _on_line(preview.boxes["po_number"][1], 61 - 48)
    assert len(preview.boxes["word"]) == page_reading.MAX_BOXES


def test_a_value_broken_across_two_lines_is_two_boxes(previewer: Previewer, tmp_path: Path) -> None:
    preview = previewer.locate(_pdf(tmp_path, ["Kestrel Supplies", "Ltd", "Other"]), {"vendor": "Kestrel Supplies Ltd"})
    first, second = preview.boxes["vendor"]
    assert _on_line(first, 0) and _on_line(second, 1)
    assert second.width < first.width / 3, "each box holds its own line's part"


def test_a_scan_is_shown_without_boxes_and_says_why(previewer: Previewer, tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(image_only_pdf())
    preview = previewer.locate(path, {"total": "1234.50"})
    assert preview == Preview(kind="pdf", pages=1, reason="a scan: no text layer to find values in")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage", "the PDF is damaged and cannot be opened"),
        (encrypted_pdf(["Total 1234.50"]), "the PDF is password-protected"),
        (b"PK\x03\x04" + bytes(100), "a ZIP archive is not previewed"),
        (b"Total 1234.50", "named .pdf but not a PDF file"),
    ],
)
def test_a_document_that_cannot_be_read_gives_a_reason_not_an_error(
    previewer: Previewer, tmp_path: Path, data: bytes, reason: str
) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    preview = previewer.locate(path, {"total": "1234.50"})
    assert preview.kind == "none" and preview.reason.startswith(reason), preview
    with pytest.raises(PreviewUnavailable, match=reason):
        previewer.render_page(path, 0, 900)


def test_a_document_over_the_reader_memory_budget_gives_a_reason_and_the_next_is_read(tmp_path: Path) -> None:
    """pdfium lays out a 400 MB content stream (from 0.4 MB on disk) and aborts when its memory
    budget runs out: the worker dies, not the caller, and a new one reads the next document."""
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(flate_bomb_pdf(400))
    tight = Limits(memory_bytes=128 * MB, cpu_seconds=20, wall_seconds=60, output_bytes=MB, workers=1)
    with Previewer(Settings(data_dir=tmp_path / "data"), tight, warm=False) as small:
        preview = small.locate(bomb, {"vendor_name": "Kestrel Supplies"})
        after = small.locate(_pdf(tmp_path, INVOICE), {"vendor_name": "Kestrel Supplies"})
    assert preview.kind == "none"
    assert preview.reason.startswith(("the document crashed its reader", "the document needs more memory")), preview
    assert after.kind == "pdf" and after.boxes["vendor_name"]


# -- text files and images -------------------------------------------------------------------


def test_a_text_file_gives_spans_that_slice_the_printed_values(previewer: Previewer, tmp_path: Path) -> None:
    path = tmp_path / "invoice.eml"
    path.write_bytes(
        "From: billing@kestrel.example\r\nKestrel  Supplies Ltd\r\nDate 5 März 2024\r\nTotal: 1 234,50 €\r\n".encode()
    )
    preview = previewer.locate(path, {"vendor": "Kestrel Supplies Ltd", "date": "2024-03-05", "total": "1234.50"})

    assert preview.kind == "text" and preview.pages == 0 and preview.text is not None
    printed = {field: [preview.text[s.start : s.end] for s in spans] for field, spans in preview.spans.items()}
    assert printed == {"vendor": ["Kestrel  Supplies Ltd"], "date": ["5 März 2024"], "total": ["1 234,50"]}
    assert "\r" not in preview.text
    with pytest.raises(PreviewUnavailable, match="a text document has no pages"):
        previewer.render_page(path, 0, 900)


def test_a_long_text_file_is_cut_and_says_so(previewer: Previewer, tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("Total 1234.50\n" + "x" * page_reading.MAX_TEXT_CHARS)
    preview = previewer.locate(path, {"total": "1234.50"})
    assert preview.text is not None and len(preview.text) == page_reading.MAX_TEXT_CHARS
    assert preview.spans["total"] and "first 200000 characters" in preview.reason


def test_an_image_is_shown_page_by_page_without_boxes(previewer: Previewer, tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    pages = [Image.new("L", (400, 600), 255), Image.new("L", (300, 300), 0)]
    pages[0].save(path, save_all=True, append_images=pages[1:])

    preview = previewer.locate(path, {"total": "1234.50"})
    assert (preview.kind, preview.pages, preview.boxes) == ("image", 2, {})
    assert "not located" in preview.reason
    second = Image.open(io.BytesIO(previewer.render_page(path, 1, 250)))
    assert second.size == (250, 250) and second.getpixel((10, 10)) == (0, 0, 0)


def test_an_image_over_the_pixel_limit_is_not_decoded(tmp_path: Path) -> None:
    path = tmp_path / "large.png"
    Image.new("L", (400, 600), 255).save(path)
    settings = Settings(data_dir=tmp_path / "data", reader_max_image_pixels=400 * 600 - 1)
    with Previewer(settings, LIMITS, warm=False) as strict:
        preview = strict.locate(path, {"total": "1234.50"})
        with pytest.raises(PreviewUnavailable, match="400x600 pixels, over the limit"):
            strict.render_page(path, 0, 300)
    assert preview.kind == "none" and "400x600 pixels, over the limit" in preview.reason


# -- pictures of pages -----------------------------------------------------------------------


def test_a_page_is_rendered_at_the_width_asked_for_within_bounds(previewer: Previewer, tmp_path: Path) -> None:
    path = _pdf(tmp_path, INVOICE + [f"line {i}" for i in range(60)])
    second = Image.open(io.BytesIO(previewer.render_page(path, 1, 900)))
    assert second.format == "PNG" and second.size == (900, round(900 * PAGE_HEIGHT / PAGE_WIDTH))
    assert Image.open(io.BytesIO(previewer.render_page(path, 0, 10))).width == previews.MIN_WIDTH
    assert Image.open(io.BytesIO(previewer.render_page(path, 0, 10_000))).width == previews.MAX_WIDTH


def test_the_first_line_is_drawn_inside_its_box(previewer: Previewer, tmp_path: Path) -> None:
    path = _pdf(tmp_path, INVOICE)
    (box,) = previewer.locate(path, {"vendor_name": "Kestrel Supplies Ltd"}).boxes["vendor_name"]
    picture = Image.open(io.BytesIO(previewer.render_page(path, 0, 1000))).convert("L")
    inside = picture.crop(
        (
            round(box.left * 1000),
            round(box.top * picture.height),
            round((box.left + box.width) * 1000),
            round((box.top + box.height) * picture.height),
        )
    )
    above = picture.crop((0, 0, 1000, round(box.top * picture.height) - 1))
    assert inside.getextrema()[0] < 100, "ink inside the box"
    assert above.getextrema()[0] == 255, "blank paper above the first line"


def test_a_second_view_is_read_from_the_cache_and_a_changed_file_is_rendered_anew(
    previewer: Previewer, tmp_path: Path
) -> None:
    path = _pdf(tmp_path, INVOICE)
    first = previewer.render_page(path, 0, 600)
    cached = previewer.cache / f"{hashlib.sha256(path.read_bytes()).hexdigest()}-0-600.png"
    assert cached.read_bytes() == first
    cached.write_bytes(b"the cached picture")
    assert previewer.render_page(path, 0, 600) == b"the cached picture"

    path.write_bytes(text_pdf(["Harrier Tools GmbH"]))
    again = previewer.render_page(path, 0, 600)
    assert again != b"the cached picture" and Image.open(io.BytesIO(again)).width == 600


@pytest.mark.parametrize("page", [1, 7, -1])
def test_a_page_out_of_range_is_refused_with_a_reason(previewer: Previewer, tmp_path: Path, page: int) -> None:
    with pytest.raises(PreviewUnavailable, match="no page"):
        previewer.render_page(_pdf(tmp_path, INVOICE), page, 900)


def test_a_file_over_the_size_limit_or_missing_is_not_read(tmp_path: Path) -> None:
    path = _pdf(tmp_path, INVOICE)
    small = Settings(data_dir=tmp_path / "data", max_document_bytes=path.stat().st_size - 1)
    with Previewer(small, LIMITS, warm=False) as strict:
        assert strict.locate(path, {"total": "1234.50"}).reason.startswith(
            f"the file is {path.stat().st_size} bytes, over"
        )
        assert strict.locate(tmp_path / "gone.pdf", {"total": "1234.50"}) == Preview(
            kind="none", reason="the file is not there any more"
        )
        with pytest.raises(PreviewUnavailable, match="over the limit"):
            strict.render_page(path, 0, 900)
    assert not (tmp_path / "data" / "previews").exists()


# -- serving many threads, once ------------------------------------------------------------------


def test_requests_from_many_threads_each_get_their_own_answer(previewer: Previewer, tmp_path: Path) -> None:
    paths = [_pdf(tmp_path, [f"Invoice INV-{i:03d}"], f"{i}.pdf") for i in range(12)]
    answers: dict[int, tuple[list[Box], int]] = {}

    def ask(i: int) -> None:
        boxes = previewer.locate(paths[i], {"number": f"INV-{i:03d}"}).boxes["number"]
        answers[i] = (boxes, Image.open(io.BytesIO(previewer.render_page(paths[i], 0, 300 + i))).width)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {i: (len(boxes), width) for i, (boxes, width) in answers.items()} == {i: (1, 300 + i) for i in range(12)}


def test_locate_many_answers_in_order(previewer: Previewer, tmp_path: Path) -> None:
    paths = [_pdf(tmp_path, [f"Invoice INV-{i:03d}"], f"{i}.pdf") for i in range(5)]
    requests = [(path, {"number": f"INV-{i:03d}"}) for i, path in enumerate(paths)]
    found = previewer.locate_many([*requests, (tmp_path / "gone.pdf", {"number": "INV-000"})])
    assert [sorted(p.boxes) for p in found] == [["number"]] * 5 + [[]]
    assert found[-1].reason == "the file is not there any more"


def test_a_closed_previewer_refuses_new_work_with_a_reason(tmp_path: Path) -> None:
    closed = Previewer(Settings(data_dir=tmp_path / "data"), LIMITS, warm=False)
    closed.close()
    path = _pdf(tmp_path, INVOICE)
    assert closed.locate(path, {"total": "1234.50"}) == Preview(kind="none", reason="previews are closed")
    with pytest.raises(PreviewUnavailable, match="closed"):
        closed.render_page(path, 0, 900)


# -- the printed forms of a value ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (Decimal("1234.5"), ["1,234.50", "1.234,50", "1 234,50", "1\u00a0234,50", "1234.50", "1234,50", "1'234.50"]),
        ("1234.50", ["EUR 1.234,50", "1234.5", "-1,234.50"]),
        (1234, ["1,234", "1.234,00", "1234.00", "1234,-"]),
        (0.5, ["0,50", "0.50"]),
        (1234567.891, ["1,234,567.891", "1.234.567,891"]),
        ("2024-03-05", ["05.03.2024", "05/03/2024", "03/05/2024", "5.3.2024", "05.03.24", "2024-03-05", "2024/03/05"]),
        (
            date(2024, 3, 5),
            ["5 March 2024", "Mar 5, 2024", "5th March 2024", "5. März 2024", "5 mars 2024", "05-Mar-24"],
        ),
        ("EUR", ["Total EUR 12", "Total 12 €"]),
        ("USD", ["$1,222.56", "US$ 12", "12 usd"]),
        ("INV-2024-0042", ["No. inv-2024-0042."]),
        ("Kestrel Supplies Ltd", ["kestrel\nsupplies  LTD"]),
    ],
)
def test_a_value_matches_its_printed_forms(value: object, printed: list[str]) -> None:
    pattern = value_pattern(value)
    assert pattern is not None
    assert [text for text in printed if not pattern.search(text)] == []


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (Decimal("234.50"), ["1.234,50", "1,234.50", "2234.50", "234.501", "234,55"]),
        (1234, ["1234.50", "11234", "1,234.5"]),
        ("2024-03-05", ["15.03.2024", "05.03.20245", "2024-03-15", "5 May 2024"]),
        ("INV-1", ["INV-12", "XINV-1"]),
        ("Kestrel", ["Kestrels"]),
        ("EUR", ["EURO 12", "£12", "$12"]),
        ("all", ["$12", "Lekë"]),
    ],
)
def test_a_value_does_not_match_inside_another(value: object, printed: list[str]) -> None:
    pattern = value_pattern(value)
    assert pattern is not None
    assert [text for text in printed if pattern.search(text)] == []


@pytest.mark.parametrize("value", [None, "", " ", "K", 7, True, False, [1, 2], {"a": 1}, ("x", "y")])
def test_values_that_would_match_everywhere_or_are_not_values_are_skipped(value: object) -> None:
    assert value_pattern(value) is None
