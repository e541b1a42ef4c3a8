"""A tiny, dependency-free writer of valid PDFs for tests and the sample inbox.

Why hand-written: the reader is tested against real PDF bytes (text layer, image-only,
encrypted) without adding a PDF-writing dependency. Every file has a correct xref table so
pdfium opens it without falling back to repair, which would hide reader bugs.

Run ``python -m tests.support.pdf_builder OUT_DIR`` to (re)build the sample inbox.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
import zlib
from pathlib import Path

LINES_PER_PAGE = 48
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _escape(line: str) -> bytes:
    """Encode one text line as a PDF literal string body in WinAnsi (cp1252)."""
    raw = line.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _page_content(lines: list[str]) -> bytes:
    """Content stream drawing ``lines`` top to bottom, one ``Tj`` per line, 11pt Helvetica."""
    parts = [b"BT /F1 11 Tf 14 TL 50 780 Td"]
    for line in lines:
        parts.append(b"(" + _escape(line) + b") Tj T*")
    parts.append(b"ET")
    return b"\n".join(parts)


def _rc4(key: bytes, data: bytes) -> bytes:
    """RC4, as the PDF standard security handler (revision 2) requires."""
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _assemble(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """Serialise numbered objects (1-based, in order) with an exact xref table and trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer_extra,
        xref_at,
    )
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _pages_pdf(
    contents: list[bytes], resources: bytes, extra_objects: list[bytes] = (), catalog_extra: bytes = b""
) -> bytes:
    """Catalog (1), Pages (2), extra objects (3..), then one page + content stream per page."""
    first_page = 3 + len(extra_objects)
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(contents)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog_extra,
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(contents)),
        *extra_objects,
    ]
    for i, content in enumerate(contents):
        content_ref = first_page + 2 * i + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources %s /Contents %d 0 R >>"
            % (resources, content_ref)
        )
        objects.append(_stream(content))
    return _assemble(objects)


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def _text_pages(lines: list[str]) -> list[bytes]:
    chunks = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    return [_page_content(c) for c in chunks]


def text_pdf(lines: list[str]) -> bytes:
    """A PDF whose text layer holds ``lines`` in order, split over pages of 48 lines."""
    return _pages_pdf(_text_pages(lines), b"<< /Font << /F1 3 0 R >> >>", [_FONT])


def placed_pdf(items: list[tuple[float, float, str]]) -> bytes:
    """A one-page PDF drawing each ``(x, y, text)`` at its place (points, origin bottom left), in the given order.

    The order of drawing is the order of the text layer: a test can draw the right-hand block
    first, or interleave two blocks line by line, the way real producers do.
    """
    parts = [b"BT /F1 11 Tf"]
    for x, y, text in items:
        parts.append(b"1 0 0 1 %.2f %.2f Tm (" % (x, y) + _escape(text) + b") Tj")
    parts.append(b"ET")
    return _pages_pdf([b"\n".join(parts)], b"<< /Font << /F1 3 0 R >> >>", [_FONT])


def pdf_with_attachment(lines: list[str], filename: str, data: bytes) -> bytes:
    """A text PDF with one embedded file, the way Factur-X / ZUGFeRD attach their XML (PDF/A-3).

    The file spec is listed in the catalog's ``/Names /EmbeddedFiles`` name tree and in ``/AF``
    (associated files, relationship ``/Data``); the file itself is an ``/EmbeddedFile`` stream.
    An empty ``lines`` gives a page without text, i.e. a 'scan' with an e-invoice attached.
    """
    name = b"(" + _escape(filename) + b")"
    filespec = b"<< /Type /Filespec /F %s /UF %s /AFRelationship /Data /Desc (e-invoice) /EF << /F 5 0 R >> >>" % (
        name,
        name,
    )
    embedded = _stream(data, b"/Type /EmbeddedFile /Subtype /text#2Fxml /Params << /Size %d >> " % len(data))
    catalog_extra = b"/Names << /EmbeddedFiles << /Names [%s 4 0 R] >> >> /AF [4 0 R] " % name
    return _pages_pdf(_text_pages(lines), b"<< /Font << /F1 3 0 R >> >>", [_FONT, filespec, embedded], catalog_extra)


def image_only_pdf(width: int = 8, height: int = 8) -> bytes:
    """A one-page PDF that paints a grey image and has no text at all (a 'scan'). The image holds
    an 8x8 pattern whatever size its dictionary claims: a larger one is a decompression bomb's shape."""
    pixels = zlib.compress(bytes([0, 128, 255, 64] * 16))  # 8x8 DeviceGray
    image = _stream(
        pixels,
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode " % (width, height),
    )
    content = b"q 400 0 0 560 97 140 cm /Im1 Do Q"
    return _pages_pdf([content], b"<< /XObject << /Im1 3 0 R >> >>", [image])


def encrypted_pdf(lines: list[str], user_password: str = "secret") -> bytes:
    """A text PDF encrypted with the standard security handler (RC4 40-bit, revision 2).

    The owner password equals the user password; opening without it must fail.
    """
    doc_id = hashlib.md5(b"opsgate-test").digest()
    user = (user_password.encode("latin-1") + _PAD)[:32]
    owner_key = hashlib.md5(user).digest()[:5]
    o_value = _rc4(owner_key, user)
    permissions = -4
    key = hashlib.md5(user + o_value + permissions.to_bytes(4, "little", signed=True) + doc_id).digest()[:5]
    u_value = _rc4(key, _PAD)

    def obj_key(number: int) -> bytes:
        return hashlib.md5(key + number.to_bytes(3, "little") + b"\x00\x00").digest()[:10]

    content = _rc4(obj_key(5), _page_content(lines))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>"
        ),
        _stream(content),
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>"
        % (o_value.hex().encode(), u_value.hex().encode(), permissions),
    ]
    return _assemble(objects, b"/Encrypt 6 0 R /ID [<%s> <%s>] " % (doc_id.hex().encode(), doc_id.hex().encode()))


def flate_bomb_pdf(
    expanded_mb: int, line: bytes = b"BT /F1 11 Tf 50 780 Td (Kestrel Supplies Ltd invoice line) Tj ET"
) -> bytes:
    """A one-page PDF whose FlateDecode content stream inflates to ``expanded_mb`` MB of ``line``
    repeated (text operators by default: expensive for pdfium to lay out), from about a thousandth
    of that on disk. Built in memory, chunk by chunk."""
    block = (line + b"\n") * (1024 * 1024 // (len(line) + 1))
    packer = zlib.compressobj(1)
    packed = b"".join([*(packer.compress(block) for _ in range(expanded_mb)), packer.flush()])
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        _FONT,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        _stream(packed, b"/Filter /FlateDecode "),
    ]
    return _assemble(objects)


def deeply_nested_pdf(lines: list[str], depth: int) -> bytes:
    """A text PDF whose page carries an array nested ``depth`` levels deep (``/Deep [[[...]]]``)."""
    resources = b"<< /Font << /F1 3 0 R >> /Deep " + b"[" * depth + b"]" * depth + b" >>"
    return _pages_pdf(_text_pages(lines), resources, [_FONT])


def object_stream_pdf(lines: list[str], packed_object: bytes) -> bytes:
    """A text PDF that also carries ``packed_object`` inside a compressed object stream (/ObjStm)."""
    header = b"6 0 "
    body = zlib.compress(header + packed_object)
    objstm = _stream(body, b"/Type /ObjStm /N 1 /First %d /Filter /FlateDecode " % len(header))
    return _pages_pdf(_text_pages(lines), b"<< /Font << /F1 3 0 R >> >>", [_FONT, objstm])


def zipped(name: str, data: bytes) -> bytes:
    """``data`` stored uncompressed in a zip archive as ``name``: its header shows within the first bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def build_samples(out_dir: Path) -> list[Path]:
    """Write the sample inbox (invented companies and figures) into ``out_dir``."""
    from tests.support.samples import SAMPLE_PDFS, SAMPLE_TEXTS

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, lines in SAMPLE_PDFS.items():
        path = out_dir / name
        path.write_bytes(text_pdf(lines))
        written.append(path)
    for name, body in SAMPLE_TEXTS.items():
        path = out_dir / name
        path.write_text(body, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.support.pdf_builder OUT_DIR", file=sys.stderr)
        return 2
    for path in build_samples(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
