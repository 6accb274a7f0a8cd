"""The decoded views of a body that a program opens on its own: compressed data, zip members,
MIME parts, PDF objects.

Decoding is never speculative: a view is opened only where the bytes or the headers say what
they are (gzip's and zip's magic bytes, a zlib header, `Content-Encoding: deflate`, `%PDF-`, a
MIME message), so a body that is none of these costs a few byte comparisons. Every view is
bounded: a `Budget` caps the bytes decoded per observation (a decompression bomb, or just a
large archive) and how deep containers nest. What a cap cut off is named in `Budget.cut` and
counted by the oracle as lost coverage, never as clean.

Each view is (encoding, bytes): the encoding names how it was reached ("gzip", "zip",
"pdf:info", "zip>pdf:attachment"), for the finding.
"""

from __future__ import annotations

import email
import email.policy
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.errors import MessageError
from email.header import decode_header, make_header

from harness.oracles.pdf import open_pdf, pdf_views

__all__ = ["MAX_DECODED", "Budget", "decoded_views", "expand", "mime_views", "opens", "rfc2047"]

MAX_DECODED = 32 << 20  # bytes decoded per observation, all views together
MAX_DEPTH = 3  # a zip in a PDF in a gzip is as deep as a program plausibly goes
MAX_MEMBERS = 1000  # zip members opened per archive
_ZLIB_METHOD = 0x78  # deflate with a 32 KiB window: the first byte of almost every zlib stream

View = tuple[str, bytes]


@dataclass(slots=True)
class Budget:
    """What is left to decode for one observation, and what was cut for want of it."""

    left: int = field(default_factory=lambda: MAX_DECODED)
    cut: list[str] = field(default_factory=list)

    def take(self, size: int) -> int:
        granted = min(size, self.left)
        self.left -= granted
        return granted


def decoded_views(
    data: bytes, budget: Budget, *, content_encoding: str = "", depth: int = 0
) -> Iterator[View]:
    """Every view a container in `data` opens onto, recursively, within `budget`."""
    if depth >= MAX_DEPTH or budget.left <= 0 or len(data) < 4:
        return
    yield from expand(_open(data, budget, content_encoding), budget, depth)


def expand(views: Iterator[View], budget: Budget, depth: int = 0) -> Iterator[View]:
    """Each view, then whatever containers it holds in turn."""
    for encoding, inner in views:
        yield encoding, inner
        for deeper, view in decoded_views(inner, budget, depth=depth + 1):
            yield f"{encoding}>{deeper}", view


def opens(data: bytes) -> bool:
    """Do `data`'s first bytes say it is a container `decoded_views` opens (a raw deflate
    stream is told by its Content-Encoding alone)?"""
    head = data[:4]
    return (
        len(data) >= 4
        and (
            head[:2] == b"\x1f\x8b"
            or (head[0] == _ZLIB_METHOD and int.from_bytes(head[:2]) % 31 == 0)
            or head == b"PK\x03\x04"
        )
    ) or data.find(b"%PDF-", 0, 1024) >= 0


def _open(data: bytes, budget: Budget, content_encoding: str) -> Iterator[View]:
    head = data[:4]
    if head[:2] == b"\x1f\x8b":
        yield from _inflate(data, zlib.MAX_WBITS | 16, "gzip", budget)
    elif head[0] == _ZLIB_METHOD and int.from_bytes(head[:2]) % 31 == 0:
        yield from _inflate(data, zlib.MAX_WBITS, "deflate", budget)
    elif "deflate" in content_encoding:
        # A client that did not inflate it left it raw (RFC 1951), as some servers send it.
        yield from _inflate(data, -zlib.MAX_WBITS, "deflate", budget)
    elif head == b"PK\x03\x04":
        yield from _unzip(data, budget)
    elif data[:1024].find(b"%PDF-") >= 0:
        yield from pdf_views(open_pdf(data), budget)


def _inflate(data: bytes, wbits: int, name: str, budget: Budget) -> Iterator[View]:
    """Inflate at most what the budget allows; a stream cut by the cap is recorded as cut,
    one cut short by its input (a Range chunk) is simply what there is."""
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, budget.left + 1)
    except zlib.error:
        return
    granted = budget.take(len(out))
    if granted < len(out):
        budget.cut.append(f"{name} body past the decoding cap ({MAX_DECODED} bytes)")
        out = out[:granted]
    if out:
        yield name, out


def _unzip(data: bytes, budget: Budget) -> Iterator[View]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    if len(members) > MAX_MEMBERS:
        budget.cut.append(f"zip of {len(members)} members, {MAX_MEMBERS} opened")
    for member in members[:MAX_MEMBERS]:
        if member.flag_bits & 0x1:
            continue  # encrypted: the observer cannot open it either without the password
        try:
            with archive.open(member) as stream:
                content = stream.read(budget.left + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            continue  # a member this build cannot read is judged as raw bytes, as before
        granted = budget.take(len(content))
        if granted < len(content):
            budget.cut.append(f"zip member past the decoding cap ({MAX_DECODED} bytes)")
            yield "zip", content[:granted]
            return
        yield "zip", content


def mime_views(data: bytes, budget: Budget) -> Iterator[View]:
    """A MIME message's decoded headers (RFC 2047 words) and its base64 and quoted-printable
    parts, each decoded as a mail client would, then opened further if it is a container."""
    try:
        # compat32 keeps header values as sent, so encoded words are still there to decode.
        message = email.message_from_bytes(data, policy=email.policy.compat32)
        for part in message.walk():
            yield from _mime_part(part, budget)
    except (MessageError, ValueError, TypeError, LookupError, IndexError):
        return


def _mime_part(part: email.message.Message, budget: Budget) -> Iterator[View]:
    words = [rfc2047(str(value)) for value in part.values() if "=?" in str(value)]
    if words:
        yield "rfc2047", "\n".join(words).encode("utf-8", "replace")
    transfer = str(part.get("content-transfer-encoding", "")).strip().lower()
    if part.is_multipart() or transfer not in ("base64", "quoted-printable"):
        return
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload:
        return
    granted = budget.take(len(payload))
    if granted < len(payload):
        budget.cut.append(f"MIME part past the decoding cap ({MAX_DECODED} bytes)")
    name = "mime-base64" if transfer == "base64" else "quoted-printable"
    yield from expand(iter([(name, payload[:granted])]), budget)


def rfc2047(value: str) -> str:
    """A header value with its RFC 2047 encoded words (`=?utf-8?B?...?=`) decoded."""
    try:
        return str(make_header(decode_header(value)))
    except (MessageError, ValueError, LookupError, UnicodeError):
        return value
