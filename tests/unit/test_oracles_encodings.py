"""Every encoding a program decodes on its own: the leak oracle finds a foreign canary in each,
names the encoding, and stays silent on near misses (another string's encoding, the observer's
own canary, random blobs and archives)."""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import quopri
import random
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import replace
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter
from pypdf.annotations import FreeText
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from harness.canaries import make_canary
from harness.coverage import Coverage
from harness.encoded import base64_kind, base64_runs
from harness.matcher import CanaryMatcher
from harness.models import Canary, CanaryKind, Finding, Observation, SurfaceKind
from harness.oracles import Judge, OracleContext, decoded
from harness.oracles.decoded import Budget, decoded_views
from harness.oracles.pdf import open_pdf, pdf_text
from tests.worlds import make_world

RNG = random.Random(2404)
PATIENTS = ("p1", "p2", "p3")
NAME = {p: Canary(make_canary(RNG), p, CanaryKind.NAME, "display name") for p in PATIENTS}
NHS = {
    p: Canary(f"999 {300 + i} {4000 + i}", p, "nhs_number", "NHS number")
    for i, p in enumerate(PATIENTS)
}
WORLD = make_world(PATIENTS, {"c1": ["p1"]}, [*NAME.values(), *NHS.values()])


def planted(owner: str = "p3") -> str:
    """The owner's name as it is planted in data: the token capitalized."""
    return f"Ada {NAME[owner].value.capitalize()} Lovelace"


def obs(body: bytes, actor: str = "p2", **kw: object) -> Observation:
    base = Observation(
        actor=actor,
        step="switch/p2/list",
        method="GET",
        url="/api/me/recordings",
        endpoint="GET /api/me/recordings",
        status=200,
        headers=(("content-type", "application/json"),),
        body=body,
        time=1000.0,
        content_type="application/json",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def leaks(observation: Observation, coverage: Coverage | None = None) -> list[Finding]:
    ctx = OracleContext.for_world(WORLD, coverage=coverage)
    return Judge(ctx, ["canary-leak"])(observation)


def encoding_of(finding: Finding) -> str:
    return dict(finding.extra).get("encoding", "")


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


def b64url(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def jwt(claims: dict[str, object]) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}))
    return f"{header}.{b64url(json.dumps(claims))}.c2lnbmF0dXJl"


# -- base64, base64url, JWT, hex: literals in the database ---------------------------------


@pytest.mark.parametrize("prefix", ["", "x", "xy"], ids=["align0", "align1", "align2"])
@pytest.mark.parametrize("spelling", ["lower", "capitalized", "upper"])
def test_base64_at_every_alignment_and_case(prefix: str, spelling: str) -> None:
    token = {"lower": str.lower, "capitalized": str.capitalize, "upper": str.upper}[spelling](
        NAME["p3"].value
    )
    body = json.dumps({"download_token": b64(prefix + token + " trailing")}).encode()
    findings = leaks(obs(body))
    assert [(f.owner, f.observer, f.surface.kind, encoding_of(f)) for f in findings] == [
        ("p3", "p2", SurfaceKind.JSON, "base64")
    ]
    assert NAME["p3"].value not in findings[0].evidence + findings[0].message
    assert "(base64)" in findings[0].evidence


@pytest.mark.parametrize("prefix", ["", "a", "ab"])
def test_base64url_and_jwt_segments(prefix: str) -> None:
    # "?>" encodes to "Pz4" in base64 and "Pz4" with -/_ only where 62/63 occur: force one.
    url = base64.urlsafe_b64encode(("\xff\xfe" + prefix + planted()).encode("latin-1")).decode()
    assert "-" in url or "_" in url
    assert [encoding_of(f) for f in leaks(obs(json.dumps({"t": url}).encode()))] == ["base64url"]
    token = jwt({"sub": "p2", "note": prefix + planted()})
    findings = leaks(obs(json.dumps({"access_token": token}).encode()))
    assert [(f.owner, encoding_of(f)) for f in findings] == [("p3", "jwt")]


def test_jwt_in_a_header_is_named_as_a_jwt() -> None:
    token = jwt({"nhs": NHS["p3"].value})
    findings = leaks(obs(b"{}", headers=(("x-download-token", token),)))
    assert [(f.owner, f.surface.kind, encoding_of(f)) for f in findings] == [
        ("p3", SurfaceKind.HEADER, "jwt")
    ]


@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_hex_in_either_case(case: Callable[[str], str]) -> None:
    body = json.dumps({"ref": case(planted().encode().hex())}).encode()
    assert [(f.owner, encoding_of(f)) for f in leaks(obs(body))] == [("p3", "hex")]


def test_encoded_canary_of_the_observer_or_a_visible_owner_is_silent() -> None:
    body = json.dumps({"t": jwt({"name": planted("p1")}), "h": planted("p1").encode().hex()})
    assert leaks(obs(body.encode(), actor="p1")) == []
    assert leaks(obs(body.encode(), actor="c1")) == []  # c1 is p1's clinician
    assert [f.observer for f in leaks(obs(body.encode(), actor="p2"))] == ["p2"]


def test_base64_of_a_near_miss_is_silent() -> None:
    value = NAME["p3"].value
    # A base64 run proves all but a few low bits of the last character: change the high ones.
    near = [value[:-1] + ("z" if value[-1].isdigit() else "0"), value[1:], value[::-1]]
    for other in near:
        for prefix in ("", "a", "ab"):
            body = json.dumps({"t": b64(prefix + other), "h": other.encode().hex()}).encode()
            assert leaks(obs(body)) == [], (other, prefix)


def test_every_run_is_in_every_encoding_of_the_value() -> None:
    value = planted().encode()
    runs = base64_runs(value)
    for prefix in (b"", b"a", b"ab", b"abc"):
        encoded = base64.b64encode(prefix + value + b"!")
        assert any(run in encoded for run in runs)
    assert min(len(run) for run in runs) >= 12


def test_short_values_get_no_encoded_literal_that_could_match_by_chance() -> None:
    matcher = CanaryMatcher([Canary("zq12", "p3", CanaryKind.NAME)])
    assert base64_runs(b"zq12") == ()
    assert matcher.scan(b"7a713132 " + base64.b64encode(b"zq12")) == []
    assert [h.encoding for h in matcher.scan(b"ZQ12")] == [""]


def test_base64_kind_reads_the_surrounding_token() -> None:
    token = jwt({"a": 1}).encode()
    assert base64_kind(b'"' + token + b'"', 30, 34) == "jwt"
    assert base64_kind(b"x abc-def_ghij y", 4, 8) == "base64url"
    assert base64_kind(b"x abc+def/ghij= y", 4, 8) == "base64"


# -- MIME: quoted-printable, base64 parts, RFC 2047 ------------------------------------------


def mail(message: MIMEMultipart | MIMEText) -> Observation:
    return obs(
        message.as_bytes(),
        actor="p2",
        method="MAIL",
        url="mail:p2@example.test",
        endpoint="MAIL notification",
        headers=(),
        content_type="",
        surface_hint=SurfaceKind.MAIL,
    )


def test_mime_base64_part_split_over_lines() -> None:
    message = MIMEMultipart()
    message.attach(MIMEText("Your recording is ready.", "plain"))
    body = ("Recording notes, " * 20 + planted() + " end.").encode()
    message.attach(MIMEApplication(body, Name="notes.txt"))  # base64, 76-column lines
    raw = message.as_bytes()
    assert planted().encode() not in raw
    findings = leaks(mail(message))
    assert [(f.owner, f.surface.kind) for f in findings] == [("p3", SurfaceKind.MAIL)]
    assert encoding_of(findings[0]).startswith(("mime-base64", "base64"))


def test_mime_quoted_printable_with_every_character_encoded() -> None:
    text = "Dear patient, " + NHS["p3"].value
    # Every byte as =XX, and a soft line break inside the number: nothing is readable raw.
    encoded = "".join(f"={b:02X}" for b in text.encode())
    encoded = encoded[:-12] + "=\r\n" + encoded[-12:]
    raw = (
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + encoded + "\r\n"
    ).encode()
    assert quopri.decodestring(raw.split(b"\r\n\r\n", 1)[1]).decode().startswith("Dear")
    findings = leaks(replace(mail(MIMEText("x")), body=raw))
    assert [(f.owner, encoding_of(f)) for f in findings] == [("p3", "quoted-printable")]


@pytest.mark.parametrize("charset_encoding", ["b", "q"])
def test_rfc2047_encoded_word_in_a_subject(charset_encoding: str) -> None:
    message = MIMEText("Your appointment is confirmed.")
    header = Header(f"Appointment for {NHS['p3'].value}", "utf-8")
    if charset_encoding == "q":
        subject = "=?utf-8?q?Appointment_for_" + NHS["p3"].value.replace(" ", "_") + "?="
    else:
        subject = header.encode()
    message["Subject"] = subject
    assert NHS["p3"].value not in message.as_string()
    findings = leaks(mail(message))
    # A B-word is base64: the literal may find it before anything is decoded.
    named = {"q": {"rfc2047"}, "b": {"rfc2047", "base64"}}[charset_encoding]
    assert [f.owner for f in findings] == ["p3"] and encoding_of(findings[0]) in named


def test_rfc2047_in_an_http_header() -> None:
    word = f"=?utf-8?b?{b64('attachment; ' + NHS['p3'].value)}?="
    findings = leaks(obs(b"{}", headers=(("content-disposition", word),)))
    assert [(f.surface.kind, f.owner) for f in findings] == [(SurfaceKind.HEADER, "p3")]


# -- compressed bodies and archives -------------------------------------------------------


def json_with(value: str) -> bytes:
    return json.dumps({"items": [{"title": f"Consultation {value}"}] * 3}).encode()


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def zipped(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


COMPRESSED = [
    ("gzip", lambda d: gzip.compress(d), (), "gzip"),
    ("zlib", lambda d: zlib.compress(d), (), "deflate"),
    ("raw-deflate", raw_deflate, (("content-encoding", "deflate"),), "deflate"),
    ("zip", lambda d: zipped(**{"export.json": b"{}", "notes.json": d}), (), "zip"),
]


@pytest.mark.parametrize(
    ("name", "pack", "headers", "encoding"), COMPRESSED, ids=[c[0] for c in COMPRESSED]
)
def test_compressed_bodies_are_opened(name, pack, headers, encoding) -> None:  # type: ignore[no-untyped-def]
    body = pack(json_with(planted()))
    assert NAME["p3"].value.encode() not in body.lower()
    observation = obs(
        body,
        content_type="application/octet-stream",
        headers=(("content-type", "application/octet-stream"), *headers),
    )
    findings = leaks(observation)
    assert [(f.owner, f.observer, encoding_of(f)) for f in findings] == [("p3", "p2", encoding)]
    assert leaks(replace(observation, actor="p3")) == []


def test_base64_inside_a_gzip_member_names_both() -> None:
    body = gzip.compress(json.dumps({"t": jwt({"n": planted()})}).encode())
    assert [encoding_of(f) for f in leaks(obs(body))] == ["gzip>jwt"]


def test_a_decompression_bomb_is_cut_and_counted_as_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoded, "MAX_DECODED", 1 << 16)
    # The canary sits past the cap: unseen, so the read must not count as clean.
    body = gzip.compress(bytes(1 << 20) + planted().encode())
    coverage = Coverage()
    assert leaks(obs(body), coverage) == []
    [row] = coverage.rows()
    assert (row.route, row.observer, row.lost) == ("GET /api/me/recordings", "p2", 1)
    assert "gzip" in row.reasons[0][0]


def test_budget_caps_what_is_decoded() -> None:
    budget = Budget(left=1000)
    views = list(decoded_views(gzip.compress(bytes(10_000)), budget))
    assert [(e, len(v)) for e, v in views] == [("gzip", 1000)]
    assert budget.cut and budget.left == 0


# -- PDF: every object, not only the page text ----------------------------------------------


def pdf(**parts: str) -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    content = DecodedStreamObject()
    content.set_data(f"BT /F1 12 Tf 72 720 Td ({parts.get('text', 'Summary')}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(content)
    # A real font, so the page has text to extract: before, a PDF with page text was judged
    # on that text alone, and its metadata, annotations and attachments went unread.
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): font})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    if "info" in parts:
        writer.add_metadata({"/Author": parts["info"]})
    if "xmp" in parts:
        xmp = DecodedStreamObject()
        xmp.set_data(
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{parts["xmp"]}'
            "</dc:creator></x:xmpmeta>".encode()
        )
        xmp[NameObject("/Type")] = NameObject("/Metadata")
        xmp[NameObject("/Subtype")] = NameObject("/XML")
        writer._root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    if "annot" in parts:
        writer.add_annotation(0, FreeText(text=parts["annot"], rect=(50, 550, 200, 650)))
    if "attachment" in parts:
        writer.add_attachment("notes.txt", parts["attachment"].encode())
    for each in writer.pages:
        each.compress_content_streams()
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_obs(data: bytes, actor: str = "p2") -> Observation:
    return obs(
        data,
        actor=actor,
        url="/api/recordings/1/summary.pdf",
        endpoint="GET /api/recordings/{id}/summary.pdf",
        content_type="application/pdf",
        headers=(("content-type", "application/pdf"),),
    )


@pytest.mark.parametrize(
    ("where", "encoding"),
    [
        ("info", "pdf:info"),
        ("xmp", "pdf:xmp"),
        ("annot", "pdf:annot"),
        ("attachment", "pdf:attachment"),
    ],
)
def test_pdf_metadata_annotations_and_attachments(where: str, encoding: str) -> None:
    data = pdf(**{where: planted()})
    assert pdf_text(open_pdf(data)).strip() == b"Summary"
    findings = leaks(pdf_obs(data))
    assert [(f.owner, f.surface.kind, encoding_of(f)) for f in findings] == [
        ("p3", SurfaceKind.PDF, encoding)
    ]
    assert leaks(pdf_obs(data, actor="p3")) == []


def test_pdf_text_in_a_compressed_stream() -> None:
    data = pdf(text=planted())
    assert b"/FlateDecode" in data and NAME["p3"].value.encode() not in data.lower()
    findings = leaks(pdf_obs(data))
    assert [(f.owner, f.surface.kind) for f in findings] == [("p3", SurfaceKind.PDF)]


def test_pdf_attachment_that_is_itself_an_archive() -> None:
    inner = zipped(**{"record.json": json_with(planted())})
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.add_attachment("record.zip", inner)
    buffer = io.BytesIO()
    writer.write(buffer)
    findings = leaks(pdf_obs(buffer.getvalue()))
    assert [encoding_of(f) for f in findings] == ["pdf:attachment>zip"]


def test_clean_pdf_is_silent() -> None:
    data = pdf(info="Dr Who", xmp="GP Online", annot="note", attachment="nothing", text="hello")
    assert leaks(pdf_obs(data)) == []


# -- silence over random data (Hypothesis) -----------------------------------------------------

MATCHER = CanaryMatcher(WORLD.ownership.canaries)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=4096))
def test_random_base64_and_hex_blobs_hold_no_canary(blob: bytes) -> None:
    for text in (base64.b64encode(blob), base64.urlsafe_b64encode(blob), binascii.hexlify(blob)):
        assert MATCHER.scan(text) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.sampled_from(["gzip", "zlib", "zip", "random"]))
def test_random_compressed_data_is_silent(seed: int, kind: str) -> None:
    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(1, 8192))
    body = {
        "gzip": gzip.compress,
        "zlib": zlib.compress,
        "zip": lambda d: zipped(blob=d),
        "random": lambda d: d,
    }[kind](data)
    assert (
        leaks(
            obs(
                body,
                content_type="application/octet-stream",
                headers=(("content-encoding", "deflate"),),
            )
        )
        == []
    )


def test_a_pdf_read_again_is_parsed_once_and_judged_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every look reads the same summaries again: their parts are kept by digest, with what
    their opening cut (lost coverage), so a later read is judged exactly as the first."""
    from harness.oracles import pdf as pdf_module
    from harness.oracles import surfaces

    monkeypatch.setattr(surfaces, "_PDFS", surfaces._PdfParts())
    monkeypatch.setattr(pdf_module, "MAX_OBJECTS", 3)  # so that opening it cuts something
    opened: list[bytes] = []

    def counting(data: bytes) -> object:
        opened.append(data)
        return open_pdf(data)

    monkeypatch.setattr(surfaces, "open_pdf", counting)
    data = pdf(info=planted(), text="hello")
    first, again = Coverage(), Coverage()
    found = [(f.owner, encoding_of(f)) for f in leaks(pdf_obs(data), first)]
    assert [(f.owner, encoding_of(f)) for f in leaks(pdf_obs(data), again)] == found
    assert len(opened) == 1 and found
    lost = [[reason for row in c.rows() for reason, _ in row.reasons] for c in (first, again)]
    assert lost[0] and lost[0] == lost[1]
    leaks(pdf_obs(data + b"\n"))  # other bytes: opened on their own
    assert len(opened) == 2
