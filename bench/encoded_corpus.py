"""Encoded leaks for the oracle bench: one foreign canary in each form a program decodes on its
own, each of a different owner, so the oracle must find each once and name its encoding.

    base64 (3 alignments), base64url, a JWT segment, hex (both cases)   literals in the scan
    HTML entities, JSON \\u escapes, percent-encoding                   the escaped windows
    MIME quoted-printable, a base64 part, an RFC 2047 subject          mime_views
    gzip, zlib, raw deflate (Content-Encoding), zip                    decoded_views
    PDF info, XMP, annotation, FlateDecode text, attachment            pdf_views (one PDF)

Each leak is planted in a body that is otherwise full of the observer's own canaries in the
same encoding, so a miss or an extra finding shows up as an inexact count.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import replace
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from pypdf import PdfWriter
from pypdf.annotations import FreeText
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from harness.models import Canary, CanaryKind, Observation, SurfaceKind
from harness.world import World

__all__ = ["LEAKS", "PDF_PLACES", "encoded_observations", "leak_observation", "pdf_document"]

Planted = tuple[str, str, str]  # (owner, canary kind, encoding the finding must name)
Build = Callable[[str, str], tuple[bytes, dict[str, Any]]]  # (own text, leak) -> body, fields


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _json(**fields: str) -> bytes:
    return json.dumps({"items": [fields] * 3, "page": 1}).encode()


def _jwt(claims: dict[str, str]) -> str:
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    return f"{header}.{_b64url(json.dumps(claims).encode())}.c2lnbmF0dXJl"


def _zip(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def _mail(message: MIMEMultipart | MIMEText) -> tuple[bytes, dict[str, Any]]:
    return message.as_bytes(), {"surface_hint": SurfaceKind.MAIL, "content_type": ""}


def _qp(own: str, leak: str) -> tuple[bytes, dict[str, Any]]:
    # Every byte as =XX with a soft line break in the middle of the leak, between two escapes
    # as an encoder breaks lines: nothing is readable raw. (It once cut an escape in two,
    # which garbled the last bytes of a bare value: the leak was not there to be found.)
    text = f"Dear {own}, about {leak}."
    encoded = "".join(f"={b:02X}" for b in text.encode())
    cut = 3 * (len(f"Dear {own}, about ".encode()) + len(leak.encode()) // 2)
    encoded = encoded[:cut] + "=\r\n" + encoded[cut:]
    raw = (
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{encoded}\r\n"
    ).encode()
    return raw, {"surface_hint": SurfaceKind.MAIL, "content_type": ""}


def _mime_base64(own: str, leak: str) -> tuple[bytes, dict[str, Any]]:
    message = MIMEMultipart()
    message.attach(MIMEText(f"Hello {own}, your notes are attached.", "plain"))
    # 50 bytes in, the leak's base64 crosses the part's first 76-column line break: only
    # decoding the part reveals it.
    notes = (("Consultation notes. " * 3)[:50] + leak + " end.").encode()
    message.attach(MIMEApplication(notes, Name="notes.txt"))
    return _mail(message)


def _rfc2047(own: str, leak: str) -> tuple[bytes, dict[str, Any]]:
    # Q-encoded with every byte as =XX: only decoding the word reveals it.
    message = MIMEText(f"Hello {own}.")
    message["Subject"] = "=?utf-8?q?" + "".join(f"={b:02X}" for b in leak.encode()) + "?="
    return _mail(message)


def _pdf(own: str, **parts: str | bytes) -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    content = DecodedStreamObject()
    content.set_data(f"BT /F1 12 Tf 72 720 Td ({parts.get('text', own)!s}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(content)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): font})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    writer.add_metadata({"/Author": str(parts.get("info", own))})
    xmp = DecodedStreamObject()
    xmp.set_data(
        f"<x:xmpmeta><dc:creator>{parts.get('xmp', own)!s}</dc:creator></x:xmpmeta>".encode()
    )
    xmp[NameObject("/Type")] = NameObject("/Metadata")
    writer._root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    writer.add_annotation(0, FreeText(text=str(parts.get("annot", own)), rect=(50, 50, 200, 90)))
    attachment = parts.get("attachment", own)
    writer.add_attachment(
        "notes.txt", attachment if isinstance(attachment, bytes) else attachment.encode()
    )
    page.compress_content_streams()
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _octets(pack: Callable[[bytes], bytes], **headers: str) -> Build:
    def build(own: str, leak: str) -> tuple[bytes, dict[str, Any]]:
        body = pack(_json(title=f"Consultation {own}", note=f"ref {leak}"))
        return body, {"content_type": "application/octet-stream", "headers": headers}

    return build


def _in_json(encode: Callable[[str], str]) -> Build:
    """The encoded texts as JSON string values, written as they are: json.dumps would escape
    a JSON escape's backslash a second time."""

    def build(own: str, leak: str) -> tuple[bytes, dict[str, Any]]:
        item = f'{{"mine": "{encode(own)}", "token": "{encode(leak)}"}}'
        return f'{{"items": [{item}, {item}], "page": 1}}'.encode(), {}

    return build


# name -> (build, encoding the finding names). Builders get the observer's own planted text
# (found everywhere, never a finding) and the leaked text.
LEAKS: dict[str, tuple[Build, str]] = {
    "base64-align0": (_in_json(_b64), "base64"),
    "base64-align1": (_in_json(lambda t: _b64("x" + t)), "base64"),
    "base64-align2": (_in_json(lambda t: _b64("xy" + t)), "base64"),
    "base64url": (_in_json(lambda t: _b64url(b"\xff\xfe" + t.encode())), "base64url"),
    "jwt": (_in_json(lambda t: _jwt({"sub": "u1", "name": t})), "jwt"),
    "hex-lower": (_in_json(lambda t: t.encode().hex()), "hex"),
    "hex-upper": (_in_json(lambda t: t.encode().hex().upper()), "hex"),
    "html-entity": (_in_json(lambda t: "".join(f"&#{ord(c)};" for c in t)), "html-entity"),
    "json-escape": (_in_json(lambda t: "".join(f"\\u{ord(c):04x}" for c in t)), "json-escape"),
    "percent": (_in_json(lambda t: "".join(f"%{ord(c):02X}" for c in t)), "percent"),
    "mime-quoted-printable": (_qp, "quoted-printable"),
    "mime-base64": (_mime_base64, "mime-base64"),
    "mime-rfc2047": (_rfc2047, "rfc2047"),
    "gzip": (_octets(gzip.compress), "gzip"),
    "zlib": (_octets(zlib.compress), "deflate"),
    "raw-deflate": (_octets(_raw_deflate, **{"content-encoding": "deflate"}), "deflate"),
    "zip": (_octets(lambda d: _zip(**{"export.json": d})), "zip"),
}
# One summary PDF leaks five owners' data, one in each place a PDF keeps data (the place ->
# the encoding its finding names): one document, parsed once, as a download would be.
PDF_PLACES = {
    "info": "pdf:info",
    "xmp": "pdf:xmp",
    "annot": "pdf:annot",
    "text": "",  # the page text itself, in a FlateDecode content stream: what a person reads
    "attachment": "pdf:attachment",
}


def planted_text(canary: Canary) -> str:
    """How a canary sits in data: names capitalized (as the population plants them)."""
    value = canary.value
    return f"Ada {value.capitalize()} Lovelace" if canary.kind == CanaryKind.NAME else value


def encoded_observations(
    world: World, observation: Callable[..., Observation], first_owner: int
) -> tuple[list[Observation], set[Planted]]:
    """One observation per entry of LEAKS, observed by p{n} and leaking p{first_owner + n}'s
    data, and the (owner, kind, encoding) each must be found as."""
    observations: list[Observation] = []
    planted: set[Planted] = set()
    first = world.ownership.for_owner
    for n, (name, (_, encoding)) in enumerate(LEAKS.items()):
        observer, owner = f"p{n}", f"p{first_owner + n}"
        own, leak = first(observer)[0], first(owner)[0]
        observations.append(leak_observation(name, observer, own, leak, observation))
        planted.add((owner, str(leak.kind), encoding))
    observer = f"p{len(LEAKS)}"
    owners = {place: f"p{first_owner + len(LEAKS) + i}" for i, place in enumerate(PDF_PLACES)}
    leaks = {place: first(owner)[0] for place, owner in owners.items()}
    document = pdf_document(first(observer)[0], **leaks)
    observations.append(observation(observer, document, "application/pdf"))
    planted |= {(owners[p], str(c.kind), PDF_PLACES[p]) for p, c in leaks.items()}
    return observations, planted


def leak_observation(
    name: str, observer: str, own: Canary, leak: Canary, observation: Callable[..., Observation]
) -> Observation:
    """What `observer` receives in the encoding LEAKS[name]: `own` (theirs) and `leak`, each
    as planted, both encoded. With `leak` one the observer may see, nothing leaks."""
    build, _ = LEAKS[name]
    body, fields = build(planted_text(own), planted_text(leak))
    headers = fields.pop("headers", {})
    content_type = fields.pop("content_type", "application/json")
    obs = observation(observer, body, content_type, **fields)
    return _with_headers(obs, headers) if headers else obs


def pdf_document(own: Canary, **places: Canary) -> bytes:
    """A summary PDF holding `own` everywhere and each of `places` (PDF_PLACES) in its place."""
    return _pdf(planted_text(own), **{p: planted_text(c) for p, c in places.items()})


def _with_headers(obs: Observation, headers: dict[str, str]) -> Observation:
    return replace(obs, headers=(*obs.headers, *headers.items()))
