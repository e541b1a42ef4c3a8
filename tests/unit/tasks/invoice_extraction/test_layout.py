"""Layout reading: side-by-side blocks come out one after the other, label | value rows and tables stay rows."""

from __future__ import annotations

from tasks.invoice_extraction.layout import Word, layout_text_lines, page_lines

SIDE_BY_SIDE = """\
Seller:                          Bill to:
Lieferant GmbH                   Kunden AG Mitte
Lieferantenstraße 20             Kundenstraße 15
80333 München                    69876 Frankfurt
"""


def test_side_by_side_address_blocks_are_read_block_by_block() -> None:
    lines = [line.strip() for line in layout_text_lines(SIDE_BY_SIDE) if line.strip()]
    assert lines == [
        "Seller:",
        "Lieferant GmbH",
        "Lieferantenstraße 20",
        "80333 München",
        "Bill to:",
        "Kunden AG Mitte",
        "Kundenstraße 15",
        "69876 Frankfurt",
    ]


def test_label_value_rows_stay_on_one_line() -> None:
    text = "Invoice no.        2024-17\nInvoice date:      05.03.2018\nTotal              1.234,50\n"
    lines = [" ".join(line.split()) for line in layout_text_lines(text)]
    assert lines == ["Invoice no. 2024-17", "Invoice date: 05.03.2018", "Total 1.234,50"]


def test_table_rows_keep_their_columns() -> None:
    text = "Pos   Description      Qty     Amount\n1     Paper A4          20     198,00\n2     Yoghurt           50     275,00\n"
    lines = layout_text_lines(text)
    assert [line.split() for line in lines] == [
        ["Pos", "Description", "Qty", "Amount"],
        ["1", "Paper", "A4", "20", "198,00"],
        ["2", "Yoghurt", "50", "275,00"],
    ]
    assert lines[1].index("198,00") == lines[0].index("Amount")  # the value stands under its heading


def test_words_in_any_order_are_grouped_by_baseline() -> None:
    # Glyph boxes as a PDF might draw them: the right block first, a slightly lower baseline on one word.
    words = [
        Word("Kunden", 300, 100, 340, 110),
        Word("AG", 343, 100, 355, 110),
        Word("Lieferant", 50, 100.5, 100, 110.5),
        Word("GmbH", 104, 100, 130, 110),
        Word("Kundenstraße", 300, 112, 370, 122),
        Word("15", 374, 112, 386, 122),
        Word("Lieferweg", 50, 112, 100, 122),
        Word("20", 104, 112, 116, 122),
    ]
    assert [line.strip() for line in page_lines(words) if line.strip()] == [
        "Lieferant GmbH",
        "Lieferweg 20",
        "Kunden AG",
        "Kundenstraße 15",
    ]


def test_blocks_end_at_a_wide_blank_stretch() -> None:
    text = "Seller GmbH              Buyer AG\nMain St 1                Side St 2\n\n\n\nNotes here               and more notes\n"
    lines = [" ".join(line.split()) for line in layout_text_lines(text)]
    assert lines.index("Buyer AG") < lines.index("Notes here and more notes")  # a lone row stays a row


def test_blocks_go_on_over_single_blank_lines_and_alternating_sides() -> None:
    # A letter's address window on the left, the sender's contact column on the right, double-spaced.
    text = (
        "   Theodor Est                                   phone 0555 2378\n\n"
        "                                                 HRA 12345\n"
        "   Bahnstr. 42\n\n"
        "   88802 Spielkreis                              info@example.org\n"
    )
    lines = [line.strip() for line in layout_text_lines(text) if line.strip()]
    assert lines == [
        "Theodor Est",
        "Bahnstr. 42",
        "88802 Spielkreis",
        "phone 0555 2378",
        "HRA 12345",
        "info@example.org",
    ]


def test_plain_text_is_unchanged() -> None:
    text = "Invoice 2024-17\nTotal 12,50 EUR"
    assert layout_text_lines(text) == ["Invoice 2024-17", "Total 12,50 EUR"]


def test_a_pdf_drawn_line_by_line_across_two_blocks_reads_block_by_block() -> None:
    from tasks.invoice_extraction.reading import document_text
    from tests.support.pdf_builder import placed_pdf

    # The producer draws the buyer's line first, then the seller's, row after row.
    rows = [
        ("Kunden AG Mitte", "Lieferant GmbH"),
        ("Kundenstraße 15", "Lieferantenstraße 20"),
        ("69876 Frankfurt", "80333 München"),
    ]
    items = []
    for i, (buyer, seller) in enumerate(rows):
        items += [(320.0, 700.0 - 14 * i, buyer), (50.0, 700.0 - 14 * i, seller)]
    items.append((50.0, 600.0, "Rechnung Nr. 4711"))
    lines = [line.strip() for line in document_text(placed_pdf(items), "blocks.pdf").text.split("\n") if line.strip()]
    assert lines == [
        "Lieferant GmbH",
        "Lieferantenstraße 20",
        "80333 München",
        "Kunden AG Mitte",
        "Kundenstraße 15",
        "69876 Frankfurt",
        "Rechnung Nr. 4711",
    ]


def test_label_words_broken_by_the_text_are_mended_and_ordinary_words_are_not() -> None:
    from tasks.invoice_extraction.label_search import mend_split_words

    assert mend_split_words(
        ["Ver käufer :", "Br uttosumme   235,62", "NET TOTAL 189.75", "Liefer ant GmbH", "Steuer basis"]
    ) == [
        "Verkäufer :",
        "Bruttosumme   235,62",
        "NET TOTAL 189.75",
        "Lieferant GmbH",
        "Steuer basis",
    ]


def test_label_value_rows_stay_rows_beside_text_in_two_columns() -> None:
    # Totals at the right with their labels, then a two-column note below: the totals are not torn apart.
    text = (
        "                              Total HT :          46,68 €\n\n"
        "                              TVA 20% :            9,34 €\n\n"
        "                              Total TTC :         56,02 €\n\n"
        "Modes de règlement\n"
        "CB          Vous pouvez régler en ligne\n"
        "            ou par chèque à l'ordre de\n"
    )
    lines = [" ".join(line.split()) for line in layout_text_lines(text) if line.strip()]
    assert lines[:3] == ["Total HT : 46,68 €", "TVA 20% : 9,34 €", "Total TTC : 56,02 €"]


def test_a_colon_standing_with_the_value_still_makes_a_label() -> None:
    text = "Bestellung              : B123456789\nLieferavis              : L87654321012345\n"
    assert [" ".join(line.split()) for line in layout_text_lines(text)] == [
        "Bestellung : B123456789",
        "Lieferavis : L87654321012345",
    ]


def test_two_lines_printed_close_together_stay_apart_where_their_words_would_collide() -> None:
    # A bold name whose band reaches into the street line below it: the bands overlap, the places do not.
    words = [
        Word("Ma", 300, 100, 318, 114),
        Word("jolie", 322, 100, 352, 114),
        Word("boutique", 356, 100, 410, 114),
        Word("35", 300, 106, 312, 116),
        Word("rue", 316, 106, 334, 116),
        Word("de", 338, 106, 350, 116),
        Word("Lyon", 354, 106, 380, 116),
    ]
    assert [line.strip() for line in page_lines(words) if line.strip()] == ["Ma jolie boutique", "35 rue de Lyon"]


def test_a_hostile_page_of_one_long_row_and_one_long_column_reads_whole() -> None:
    row = [Word(f"w{i}", i * 10.0, 0.0, i * 10.0 + 6, 10.0) for i in range(5000)]
    assert page_lines(row)[0].split() == [f"w{i}" for i in range(5000)]
    column = [Word(f"r{i}", 0.0, i * 12.0, 30.0, i * 12.0 + 10) for i in range(5000)]
    assert [line.strip() for line in page_lines(column)] == [f"r{i}" for i in range(5000)]
