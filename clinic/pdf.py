"""A minimal one-page text PDF.

Hand-written rather than fpdf2: a summary is a few lines of text in a standard font, which takes
about forty lines of PDF syntax, and this keeps a PDF library out of the clinic's runtime
dependencies. Text is set in Helvetica with WinAnsiEncoding (one of the 14 fonts every reader
has), so no font is embedded and tools such as pypdf extract it as written; characters outside
cp1252 become "?".
"""

from __future__ import annotations

_TOP, _LEFT, _LEADING, _SIZE = 800, 56, 16, 11


def _literal(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


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


def text_pdf(title: str, lines: list[str]) -> bytes:
    """A PDF whose single A4 page shows `title` and then `lines`."""
    content = _content(title, lines)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
