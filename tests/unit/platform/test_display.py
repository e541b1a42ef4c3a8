"""Untrusted text shown as it is: in the terminal (never rich markup), in Markdown, in HTML and in
Slack, with hidden characters made visible; and CSV cells a spreadsheet would run, neutralised."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest
from rich.console import Console
from rich.table import Table

from opsgate.display import (
    BIDI_CONTROLS,
    bidi_controls,
    csv_cell,
    html_text,
    markdown_text,
    slack_text,
    terminal_json,
    terminal_text,
    visible,
)
from tests.support.markdown import render

BIDI = [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
]
MARKUP = "[conceal]Acme[/conceal] [red]Ltd[/red] [link=https://evil.example]pay here[/link]"


def _terminal(*renderables: object) -> str:
    """What a colour terminal receives, escape codes included."""
    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=200)
    console.print(*renderables)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_bidirectional_controls_are_the_ones_unicode_defines() -> None:
    assert BIDI_CONTROLS == frozenset(BIDI)


@pytest.mark.parametrize("char", BIDI)
def test_each_bidirectional_control_is_shown_as_its_code_point(char: str) -> None:
    assert visible(f"invoice_{char}fdp.exe") == f"invoice_⟨U+{ord(char):04X}⟩fdp.exe"
    assert bidi_controls(f"a{char}b{char}") == [f"U+{ord(char):04X}"]


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\u200b", "⟨U+200B⟩"),  # zero-width space
        ("\u200d", "⟨U+200D⟩"),  # zero-width joiner
        ("\ufeff", "⟨U+FEFF⟩"),  # byte order mark
        ("\U000e0041", "⟨U+E0041⟩"),  # a tag character: invisible text
        ("\x1b", "⟨U+001B⟩"),  # ESC: starts a terminal escape sequence
        ("\r", "⟨U+000D⟩"),  # overwrites the line
        ("\x00", "⟨U+0000⟩"),
        ("\x7f", "⟨U+007F⟩"),
        ("\x9b", "⟨U+009B⟩"),  # C1 control sequence introducer
    ],
)
def test_other_invisible_and_control_characters_are_shown(char: str, shown: str) -> None:
    assert visible(f"Acme{char}Ltd") == f"Acme{shown}Ltd"
    assert bidi_controls(f"Acme{char}Ltd") == []


def test_ordinary_text_of_any_script_is_left_alone() -> None:
    for text in ("Müller & Söhne\tGmbH\nHamburg", "شركة المثال", 'חברה בע"מ', "株式会社", "naïve café 🧾", "a\u00a0b"):
        assert visible(text) == text


def test_the_terminal_shows_markup_as_text_and_hidden_characters_as_markers() -> None:
    table = Table("vendor")
    table.add_row(terminal_text(MARKUP))
    for shown in (_terminal(terminal_text(MARKUP)), _terminal(table)):
        assert MARKUP in shown
        assert "\x1b[8m" not in shown and "\x1b]8;" not in shown  # no concealed text, no hyperlink
    shown = _terminal(terminal_text("invoice_\u202efdp.exe \x1b[2J"))
    assert "invoice_⟨U+202E⟩fdp.exe ⟨U+001B⟩[2J" in shown and "\u202e" not in shown and "\x1b[2J" not in shown


def test_a_payload_is_shown_as_json_without_markup() -> None:
    shown = _terminal(terminal_json({"vendor_name": MARKUP, "iban": "DE89\u202e3704"}))
    plain = Console(file=io.StringIO(), width=200)
    plain.print(terminal_json({"vendor_name": MARKUP, "iban": "DE89\u202e3704"}))
    assert f'"vendor_name": "{MARKUP}"' in plain.file.getvalue()  # type: ignore[attr-defined]
    assert '"iban": "DE89⟨U+202E⟩3704"' in plain.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[8m" not in shown and "\u202e" not in shown


@pytest.mark.parametrize(
    "text",
    [
        "<img src=x onerror=alert(1)>|evil.pdf",
        "[pay here](https://evil.example) ![](https://tracker.example/p.png)",
        "**urgent** _now_ `code` <script>alert(1)</script>",
        "# heading\n| a | b |\n|---|---|",
        "mail ap@example.com or www.example.com / https://example.com",
        "back\\slash {braces} ~strike~ #tag +1 !bang",
    ],
)
def test_markdown_shows_the_text_and_nothing_else(text: str) -> None:
    rendered = render(f"| cell | next |\n|---|---|\n| {markdown_text(text)} | x |\n")
    assert rendered.tables == [[["cell", "next"], [" ".join(text.split()), "x"]]]
    assert rendered.acting() == []
    assert rendered.elements.count("td") == 2


def test_markdown_makes_bidirectional_controls_visible() -> None:
    rendered = render(markdown_text("Acme \u202eLtd\u202c"))
    assert rendered.text.strip() == "Acme ⟨U+202E⟩Ltd⟨U+202C⟩"


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text += data


def test_html_shows_the_text_and_nothing_else() -> None:
    title, body = html_text('" onmouseover="alert(1)'), html_text("<script>alert(1)</script> & \u202eLtd")
    page = _Elements()
    page.feed(f'<p title="{title}">{body}</p>')
    assert page.tags == ["p"] and page.attrs == [("title", '" onmouseover="alert(1)')]
    assert page.text == "<script>alert(1)</script> & ⟨U+202E⟩Ltd"


def test_slack_text_escapes_its_control_characters() -> None:
    assert (
        slack_text("<!channel> pay <https://evil.example|here> & \u202eLtd")
        == "&lt;!channel&gt; pay &lt;https://evil.example|here&gt; &amp; ⟨U+202E⟩Ltd"
    )


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("https://evil.example","x")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        "-",
        "-12.50+1",
        "-1e3",
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell(cell)])
    (read,) = csv.reader(io.StringIO(out.getvalue()))
    assert read == ["'" + cell]  # what the spreadsheet reads starts with the quote: text, not a formula


@pytest.mark.parametrize(
    "cell", ["-12.50", "-3", "12.50", "0", "Acme Ltd", "a=b", "", "2024-03-15", "user@example.com"]
)
def test_plain_numbers_and_other_text_stay_as_they_are(cell: str) -> None:
    assert csv_cell(cell) == cell


def test_values_that_are_not_text_pass_unchanged() -> None:
    assert [csv_cell(v) for v in (-12.5, 3, None, True)] == [-12.5, 3, None, True]
