"""Markdown as a person sees it: rendered the way Prefect's UI renders artifacts and form
descriptions (GitHub tables, raw HTML passed through), then read back as the elements it made
and the text of each table cell. A test states what should be seen, not how it is escaped."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from markdown_it import MarkdownIt

STRUCTURE = {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "strong",
    "em",
    "code",
    "blockquote",
    "hr",
}


@dataclass
class Rendered:
    tables: list[list[list[str]]] = field(default_factory=list)
    elements: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # where links and images point
    text: str = ""

    def acting(self) -> list[str]:
        """Elements that do more than lay text out: links, images, scripts, any raw HTML tag."""
        return [tag for tag in self.elements if tag not in STRUCTURE]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rendered = Rendered()
        self._cell: list[str] | None = None
        self._texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.rendered.elements.append(tag)
        self.rendered.targets += [value or "" for name, value in attrs if name in ("href", "src")]
        if tag == "table":
            self.rendered.tables.append([])
        elif tag == "tr":
            self.rendered.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rendered.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self._texts.append(data)
        if self._cell is not None:
            self._cell.append(data)


def render(markdown: str) -> Rendered:
    reader = _Reader()
    reader.feed(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    reader.close()
    reader.rendered.text = "".join(reader._texts)
    return reader.rendered
