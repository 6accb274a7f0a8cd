"""Every place a PDF keeps data, not only the text a page shows.

A viewer shows the page text, but it also shows the document properties (the info dictionary
and the XMP metadata), annotation contents and attachments, and any tool reads the rest. So
every object of the file is opened: strings of each dictionary (the info dictionary,
annotations, form fields, bookmarks), each stream decoded through its filters (FlateDecode
content streams, XMP, fonts' ToUnicode maps) and each embedded file, which may itself be a
container. The page text itself comes from `pdf_text` (pypdf's extraction: what a person reads).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PdfStreamError
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

if TYPE_CHECKING:
    from harness.oracles.decoded import Budget

__all__ = ["open_pdf", "pdf_text", "pdf_views"]

MAX_OBJECTS = 20_000  # objects opened per PDF; a real document has far fewer
_MAX_NESTING = 16  # how deep strings are gathered inside one object's dictionaries and arrays
_ERRORS = (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, OSError, AttributeError)


def open_pdf(data: bytes) -> PdfReader | None:
    """The parsed PDF (parsed once, read for its text and its objects), None if it is not
    one or is locked: without the password the observer cannot open it either."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return None
    except _ERRORS:
        return None
    return reader


def pdf_text(reader: PdfReader | None) -> bytes:
    """The text a PDF shows (pypdf), or b"" if it does not parse: the raw bytes are still
    judged as media, so an unreadable PDF is never silently skipped."""
    if reader is None:
        return b""
    try:
        return "\n".join(page.extract_text() or "" for page in reader.pages).encode()
    except _ERRORS:
        return b""


def pdf_views(reader: PdfReader | None, budget: Budget) -> Iterator[tuple[str, bytes]]:
    """(`pdf:info` | `pdf:xmp` | `pdf:annot` | `pdf:object` | `pdf:stream` | `pdf:attachment`,
    bytes) for every object of the PDF, within `budget`."""
    if reader is None:
        return
    try:
        info = reader.trailer.get("/Info")
        info_id = getattr(info, "idnum", None)
        size = int(reader.trailer.get("/Size", 0))
    except _ERRORS:
        return
    if size > MAX_OBJECTS:
        budget.cut.append(f"PDF of {size} objects, {MAX_OBJECTS} opened")
    for idnum in range(1, min(size, MAX_OBJECTS)):
        if budget.left <= 0:
            budget.cut.append("PDF objects past the decoded cap")
            return
        try:
            obj = reader.get_object(idnum)
            view = _view(obj, idnum == info_id)
        except _ERRORS:
            continue  # one broken object must not hide the others
        if view is not None and view[1]:
            granted = budget.take(len(view[1]))
            if granted < len(view[1]):
                budget.cut.append("PDF object past the decoded cap")
            yield view[0], view[1][:granted]


def _view(obj: PdfObject | None, is_info: bool) -> tuple[str, bytes] | None:
    if isinstance(obj, StreamObject):
        return _stream_kind(obj), obj.get_data()
    if isinstance(obj, DictionaryObject | ArrayObject):
        text = "\n".join(_strings(obj, 0)).encode("utf-8", "surrogatepass")
        return ("pdf:info" if is_info else _dict_kind(obj)), text
    if isinstance(obj, TextStringObject | ByteStringObject):
        return "pdf:object", "\n".join(_strings(obj, 0)).encode("utf-8", "surrogatepass")
    return None


def _stream_kind(stream: StreamObject) -> str:
    kind = stream.get("/Type")
    if kind == "/Metadata":
        return "pdf:xmp"
    if kind == "/EmbeddedFile":
        return "pdf:attachment"
    return "pdf:stream"


def _dict_kind(obj: DictionaryObject | ArrayObject) -> str:
    if isinstance(obj, DictionaryObject) and (obj.get("/Type") == "/Annot" or "/Rect" in obj):
        return "pdf:annot"
    return "pdf:object"


def _strings(obj: PdfObject, depth: int) -> Iterator[str]:
    """The strings held directly in `obj`: indirect references are objects of their own."""
    if depth > _MAX_NESTING:
        return
    if isinstance(obj, TextStringObject):
        yield str(obj)
    elif isinstance(obj, ByteStringObject):
        yield bytes(obj).decode("latin-1")
    elif isinstance(obj, DictionaryObject):
        for value in obj.values():
            yield from _strings(value, depth + 1)
    elif isinstance(obj, ArrayObject):
        for value in obj:
            yield from _strings(value, depth + 1)
