"""Split one observation into the byte regions an observer received, each with its surface,
then the decoded views a program would open on its own (`harness.oracles.decoded`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from harness.models import Observation, SurfaceKind
from harness.oracles.decoded import (
    MAX_DECODED,
    Budget,
    decoded_views,
    expand,
    mime_views,
    opens,
    rfc2047,
)
from harness.oracles.memo import BodyMemo, digest
from harness.oracles.pdf import open_pdf, pdf_text, pdf_views

__all__ = ["Part", "body_kind", "parts", "where"]

_MEDIA_TYPES = ("video/", "audio/", "image/", "application/octet-stream")


class Part(NamedTuple):
    """One byte region to scan (a tuple: the oracle builds a few for every response)."""

    kind: SurfaceKind
    data: bytes
    offset: int = 0  # where `data` starts in the resource (a Range chunk's first byte)
    # Header name per starting byte offset, for evidence; empty for bodies.
    headers: tuple[tuple[int, str], ...] = ()
    encoding: str = ""  # how `data` was decoded from what was received ("" for as received)

    def header_at(self, start: int) -> str:
        name = ""
        for at, header in self.headers:
            if at > start:
                break
            name = header
        return name


def where(obs: Observation) -> str:
    """The templated route, else the path: never the query, which may hold a media token."""
    return obs.endpoint or f"{obs.method} {obs.url.split('?', 1)[0]}"


def body_kind(obs: Observation) -> SurfaceKind:
    if obs.surface_hint is not None:
        return obs.surface_hint
    if 300 <= obs.status < 400:
        return SurfaceKind.REDIRECT
    if obs.status >= 400:
        return SurfaceKind.ERROR
    content_type = (obs.content_type or obs.header("content-type") or "").lower()
    if "json" in content_type:
        return SurfaceKind.JSON
    if "html" in content_type:
        return SurfaceKind.HTML
    if "pdf" in content_type or obs.body[:5] == b"%PDF-":
        return SurfaceKind.PDF
    if "csv" in content_type:
        return SurfaceKind.CSV
    if obs.byte_range is not None or content_type.startswith(_MEDIA_TYPES):
        return SurfaceKind.MEDIA
    return SurfaceKind.OTHER


_MIME_TYPES = ("multipart/", "message/")


def parts(obs: Observation, budget: Budget | None = None) -> Iterator[Part]:
    """The body, the Location header, every other header in one buffer (one scan), then the
    decoded views of the body, within `budget` (what it cut is left in `budget.cut`)."""
    budget = budget or Budget()
    kind = body_kind(obs) if obs.body else SurfaceKind.OTHER
    if kind is SurfaceKind.PDF:
        yield from _PDFS.of(obs, budget)
    elif obs.body:
        offset = obs.byte_range[0] if obs.byte_range is not None else 0
        yield Part(kind, obs.body, offset)
    location = obs.header("location")
    if location:
        yield Part(SurfaceKind.REDIRECT, location.encode("utf-8", "replace"))
    yield from _headers(obs)
    if obs.body and kind is not SurfaceKind.PDF and _may_decode(obs, kind):
        yield from _decoded(obs, kind, budget)


def _may_decode(obs: Observation, kind: SurfaceKind) -> bool:
    """Could `_decoded` open anything? The same cheap signs it opens on, tested without its
    generators: almost no response is a container, and every one of them is asked."""
    if kind is SurfaceKind.MEDIA and obs.byte_range is not None and obs.byte_range[0] > 0:
        return False
    return (
        kind is SurfaceKind.MAIL
        or (obs.content_type or obs.header("content-type") or "").lower().startswith(_MIME_TYPES)
        or "deflate" in (obs.header("content-encoding") or "").lower()
        or opens(obs.body)
    )


class _PdfParts:
    """The parts of PDFs already opened, by the digest of their bytes (and where they start).
    The same document reaches every observer who may read it, in every look: parsing it once
    per run, not once per read, was the largest share of the oracle's own CPU in a look. Only
    a PDF opened with the whole budget is kept, with what it took of it and what it cut, so a
    later read of it takes and cuts exactly as opening it again would."""

    def __init__(self, limit: int = 2048) -> None:
        self._done: BodyMemo[tuple[list[Part], int, list[str]]] = BodyMemo(limit)

    def of(self, obs: Observation, budget: Budget) -> Iterator[Part]:
        if budget.left != MAX_DECODED or budget.cut:
            yield from _pdf(obs, budget)
            return
        offset = obs.byte_range[0] if obs.byte_range is not None else 0
        key = (digest(obs.body), offset)
        kept = self._done.get(key)
        if kept is None:
            found = list(_pdf(obs, budget))  # raises as opening it would
            kept = (found, MAX_DECODED - budget.left, list(budget.cut))
            self._done.put(key, kept)
        else:
            budget.left -= kept[1]
            budget.cut += kept[2]
        yield from kept[0]


_PDFS = _PdfParts()


def _pdf(obs: Observation, budget: Budget) -> Iterator[Part]:
    """What a person reads is the text, not the (often compressed) bytes; a PDF that yields
    no text is judged as raw bytes instead, never skipped. Then every object it holds."""
    reader = open_pdf(obs.body)
    text = pdf_text(reader)
    if text.strip():
        yield Part(SurfaceKind.PDF, text)
    else:
        offset = obs.byte_range[0] if obs.byte_range is not None else 0
        yield Part(SurfaceKind.MEDIA, obs.body, offset)
    for encoding, data in expand(pdf_views(reader, budget), budget):
        yield Part(SurfaceKind.PDF, data, encoding=encoding)


def _decoded(obs: Observation, kind: SurfaceKind, budget: Budget) -> Iterator[Part]:
    if kind is SurfaceKind.MEDIA and obs.byte_range is not None and obs.byte_range[0] > 0:
        return  # a Range chunk past the start has no magic bytes; its seams are stitched
    content_type = (obs.content_type or obs.header("content-type") or "").lower()
    if kind is SurfaceKind.MAIL or content_type.startswith(_MIME_TYPES):
        for encoding, data in mime_views(obs.body, budget):
            yield Part(kind, data, encoding=encoding)
    content_encoding = (obs.header("content-encoding") or "").lower()
    for encoding, data in decoded_views(obs.body, budget, content_encoding=content_encoding):
        yield Part(
            SurfaceKind.PDF if encoding.startswith("pdf:") else kind, data, encoding=encoding
        )


def _headers(obs: Observation) -> Iterator[Part]:
    chunks: list[bytes] = []
    starts: list[tuple[int, str]] = []
    decoded: list[str] = []
    size = 0
    for name, value in obs.headers:
        if name.lower() == "location":
            continue
        line = f"{name}: {value}\r\n".encode("utf-8", "replace")
        starts.append((size, name.lower()))
        chunks.append(line)
        size += len(line)
        if "=?" in value:
            decoded.append(f"{name}: {rfc2047(value)}")
    if chunks:
        yield Part(SurfaceKind.HEADER, b"".join(chunks), headers=tuple(starts))
    if decoded:
        text = "\r\n".join(decoded).encode("utf-8", "replace")
        yield Part(SurfaceKind.HEADER, text, encoding="rfc2047")
