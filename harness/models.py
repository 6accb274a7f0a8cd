"""The harness's vocabulary: actors, canaries, observations, findings, exposures, verdicts.

All are frozen, slotted dataclasses: once the driver has recorded what an actor received,
nothing downstream may change it. These are foundation types and may be imported anywhere.

What leaves the process (a finding with its surface and repro steps, an exposure) is a pydantic
dataclass: it still builds positionally and with `dataclasses.replace`, hashes and compares as
a dataclass, and it is the one definition of its JSON shape (`Finding.to_json`/`from_json`),
which report.json, Locust's IPC and incident.json all use. Observations stay plain dataclasses:
the driver makes one per response, and nothing serialises them.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, computed_field
from pydantic.dataclasses import dataclass as model


class CanaryKind(enum.StrEnum):
    """Data kinds the population generator knows how to shape. A profile may name any other
    kind (a canary's kind is a plain string); these are only the common ones."""

    NAME = "name"
    NOTE = "note"
    NHS_NUMBER = "nhs_number"
    REASON = "reason"
    EMAIL = "email"
    PASSWORD = "password"
    PHONE = "phone"
    MEDIA = "media"


class SurfaceKind(enum.StrEnum):
    """Where in a response a byte was seen. Every one of these is scanned."""

    JSON = "json"
    HTML = "html"
    HEADER = "header"
    ERROR = "error"
    REDIRECT = "redirect"
    MEDIA = "media"
    VIDEO = "media:video"  # a canary read from a recording's decoded pixels (a QR code)
    AUDIO = "media:audio"  # a canary read from a recording's decoded sound (an audio code)
    DOM = "dom"  # what a browser rendered (text and attributes)
    WS = "ws"  # a message pushed over a WebSocket / SSE
    MAIL = "mail"  # an e-mail the target sent
    SMS = "sms"  # a text message the target sent
    PDF = "pdf"  # text extracted from a downloaded PDF
    CSV = "csv"  # a downloaded CSV export
    OTHER = "other"


class Severity(enum.StrEnum):
    CRITICAL = "critical"  # another patient's data reached someone who may not see it
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Verdict(enum.StrEnum):
    """Merged error > fail > pass. Anything unknown is treated as FAIL, never PASS."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"

    @staticmethod
    def merge(*verdicts: Verdict) -> Verdict:
        """Jepsen-style merge: error beats fail beats pass. No verdicts at all is an error."""
        if not verdicts:
            return Verdict.ERROR
        if Verdict.ERROR in verdicts:
            return Verdict.ERROR
        if Verdict.FAIL in verdicts:
            return Verdict.FAIL
        return Verdict.PASS


ANONYMOUS_ID = "anonymous"
ANONYMOUS_ROLE = "anonymous"


@dataclass(frozen=True, slots=True)
class Actor:
    """A synthetic user. `id` is the harness's name for it; `role` is the profile's role name;
    `vars` holds its generated fields and what creating it captured (a server id ...)."""

    id: str
    role: str
    display_name: str = ""
    vars: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_anonymous(self) -> bool:
        return self.role == ANONYMOUS_ROLE

    @property
    def password(self) -> str:
        return str(self.vars.get("password", ""))


ANONYMOUS = Actor(id=ANONYMOUS_ID, role=ANONYMOUS_ROLE)


@dataclass(frozen=True, slots=True)
class Canary:
    """A unique value planted in one user's data. Seeing it proves that datum arrived."""

    value: str
    owner: str  # the actor id that owns it
    kind: str  # the data kind: name, note, password ... (CanaryKind holds the common ones)
    label: str = ""  # human description: "display name", "appointment reason" ...
    resource: str = ""  # the resource it belongs to ("appointment:p0-ab12:3"), "" for the user
    shown: bool = True  # the app shows it back to its owner (a positive control expects that)


@model(frozen=True, slots=True)
class Surface:
    kind: SurfaceKind
    where: str  # endpoint ("GET /api/me/recordings"), page ("/profile") or media resource

    def __str__(self) -> str:
        return f"{self.kind}:{self.where}"


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything one actor received for one request (or one rendered page)."""

    actor: str
    step: str  # scenario step that caused it ("switch/p3/switch-to-video")
    method: str
    url: str  # path and query, as requested
    endpoint: str  # templated route, e.g. "GET /api/recordings/{id}"
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    time: float  # wall clock (epoch seconds) when the response arrived
    elapsed: float = 0.0
    content_type: str = ""
    # For a 206 Range response: (first byte, last byte) of the full resource, inclusive.
    byte_range: tuple[int, int] | None = None
    surface_hint: SurfaceKind | None = None  # set by drivers that know (browser DOM)
    # The read this was, when the access suite may repeat it as someone else ("" otherwise).
    read: str = ""
    sent_body: bytes = b""  # the request body, for repeating a read that is a POST
    sent_content_type: str = ""
    # Headers that shaped the request (a variant's `Accept`), sent again when it is repeated.
    sent_headers: tuple[tuple[str, str], ...] = ()
    # Whose data this read was about, when the read was of someone else's entity.
    about: str = ""
    entity: str = ""  # "kind:id" of the listed entity this read was about, if any

    @property
    def sent_at(self) -> float:
        return self.time - self.elapsed

    @property
    def total_size(self) -> int | None:
        """The whole resource's size a Range answer gives (`Content-Range: bytes a-b/SIZE`)."""
        _, _, total = (self.header("content-range") or "").rpartition("/")
        return int(total) if total.isdigit() else None

    @property
    def complete(self) -> bool:
        """Whether the body is the whole resource: no Range, or a range that spans all of it
        (`Content-Range: bytes 0-N/N+1`, as the ranged halves of a read joined back up)."""
        if self.byte_range is None:
            return True
        first, last = self.byte_range
        return first == 0 and self.total_size == last + 1 == len(self.body)

    @property
    def window(self) -> tuple[float, float]:
        """When the server could have produced it: from sending the request to the reply."""
        return (self.time - self.elapsed, self.time)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


@model(frozen=True, slots=True)
class Step:
    """One action of a reproduction: enough to replay it against a fresh target."""

    actor: str
    action: str  # a flow name, look, request (an original read), replay (the repeat)
    arg: str = ""  # the resource index for a flow; the method and URL for request/replay


@model(frozen=True, slots=True)
class Finding:
    """One thing an oracle judged wrong. `key` removes duplicates across steps."""

    check: str  # name of the oracle that raised it
    kind: str  # "canary-leak", "foreign-recording", "server-error", ...
    severity: Severity
    message: str
    observer: str
    surface: Surface
    step: str
    time: float
    owner: str | None = None  # whose data it was, for exposures
    # CanaryKind first, so an oracle's CanaryKind stays that member; other kinds stay strings.
    canary_kind: CanaryKind | str | None = None
    evidence: str = ""  # redacted context, never the raw patient-like value
    suite: str = ""
    extra: tuple[tuple[str, str], ...] = ()
    # The minimal steps that led here (filled by the suite), for `chaperone replay`.
    repro: tuple[Step, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str:
        """Same leak seen twice by one suite (same check, owner, observer, surface) is one
        finding. The suite is part of the key so each suite is credited with what it found;
        a repeat of a suite under another seed (`switch@seed=3`) is the same suite."""
        suite = self.suite.split("@", 1)[0]
        fields = [suite, self.check, self.kind, self.owner or "", self.observer, str(self.surface)]
        raw = "|".join(fields)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def is_exposure(self) -> bool:
        return self.owner is not None and self.owner != self.observer

    @property
    def is_leak(self) -> bool:
        """The one answer to "did data reach someone it should not?": someone else's data was
        seen, or an oracle judged it critical (data whose owner it could not tell). The watch
        pulls the kill switch on it; shrinking and the controls keep only such failures."""
        return self.is_exposure or self.severity is Severity.CRITICAL

    def to_json(self) -> dict[str, Any]:
        """The finding as JSON-ready data (its `key` included); `from_json` reads it back."""
        data: dict[str, Any] = _FINDING.dump_python(self, mode="json")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """Read back what `to_json` wrote; a `key` in `data` is ignored (it is recomputed)."""
        return _FINDING.validate_python(data)


_FINDING = TypeAdapter(Finding)


@model(frozen=True, slots=True)
class Exposure:
    """One row of a breach notification: whose data reached whom, where and when."""

    owner: str
    observer: str
    what: tuple[str, ...]  # canary kinds / labels seen
    surfaces: tuple[str, ...]
    first_seen: float
    last_seen: float
    findings: int
