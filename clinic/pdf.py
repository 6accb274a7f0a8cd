"""A minimal one-page text PDF, with its document properties.

Hand-written rather than fpdf2: a summary is a few lines of text in a standard font, which takes
about sixty lines of PDF syntax, and this keeps a PDF library out of the clinic's runtime
dependencies. Text is set in Helvetica with WinAnsiEncoding (one of the 14 fonts every reader
has), so no font is embedded and tools such as pypdf extract it as written; characters outside
cp1252 become "?".

The document properties a viewer shows (title, author, subject) are written twice, as most
writers do: in the info dictionary, as UTF-16BE text strings with a byte-order mark (PDF 32000
7.9.2.2), so any name survives, not only those PDFDocEncoding spells; and as an XMP packet, the
form newer tools read. Streams are Flate-compressed, as most writers do by default.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

__all__ = ["Properties", "text_pdf"]

_TOP, _LEFT, _LEADING, _SIZE = 800, 56, 16, 11


@dataclass(frozen=True, slots=True)
class Properties:
    """What a viewer's "document properties" dialog shows."""

    title: str
    author: str
    subject: str


def _literal(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _text_string(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _content(title: str, lines: list[str]) -> bytes:
    ops = [
        b"BT",
        b"/F1 16 Tf",
        f"{_LEFT} {_TOP} Td".encode(),
        _literal(title) + b" Tj",
        f"/F1 {_SIZE} Tf {_LEADING} TL T* T*".encode(),
    ]
    for line in lines:
        # A line break inside a value would be drawn as a glyph; keep it one line.
        ops.append(_literal(" ".join(line.split())) + b" Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops)


def _info(properties: Properties) -> bytes:
    entries = (
        (b"/Title", properties.title),
        (b"/Author", properties.author),
        (b"/Subject", properties.subject),
        (b"/Producer", "GP Online"),
    )
    return b"<< " + b" ".join(key + b" " + _text_string(value) for key, value in entries) + b" >>"


def _xmp(properties: Properties) -> bytes:
    def alt(value: str) -> str:
        return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(value)}</rdf:li></rdf:Alt>'

    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{alt(properties.title)}</dc:title>"
        f"<dc:creator><rdf:Seq><rdf:li>{escape(properties.author)}</rdf:li></rdf:Seq></dc:creator>"
        f"<dc:description>{alt(properties.subject)}</dc:description>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="r"?>'
    ).encode()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data)
    head = f"<< {extra.decode()}/Length {len(packed)} /Filter /FlateDecode >>\nstream\n"
    return head.encode() + packed + b"\nendstream"


def text_pdf(title: str, lines: list[str], properties: Properties) -> bytes:
    """A PDF whose single A4 page shows `title` and then `lines`, described by `properties`."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Metadata 7 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        _stream(_content(title, lines)),
        _info(properties),
        _stream(_xmp(properties), b"/Type /Metadata /Subtype /XML "),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
