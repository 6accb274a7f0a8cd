"""The harness's vocabulary: actors, canaries, observations, findings, exposures, verdicts.

All are frozen, slotted dataclasses: once the driver has recorded what an actor received,
nothing downstream may change it. These are foundation types and may be imported anywhere.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    PATIENT = "patient"
    CLINICIAN = "clinician"
    ANONYMOUS = "anonymous"


class CanaryKind(enum.StrEnum):
    NAME = "name"
    NOTE = "note"
    NHS_NUMBER = "nhs_number"
    REASON = "reason"
    MEDIA = "media"


class SurfaceKind(enum.StrEnum):
    """Where in a response a byte was seen. Every one of these is scanned."""

    JSON = "json"
    HTML = "html"
    HEADER = "header"
    ERROR = "error"
    REDIRECT = "redirect"
    MEDIA = "media"
    DOM = "dom"  # what a browser rendered (text and attributes)
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


@dataclass(frozen=True, slots=True)
class Actor:
    """A synthetic user. `id` is the username the harness seeded it under."""

    id: str
    role: Role
    display_name: str = ""
    password: str = ""
    # Patients a clinician is assigned to (their data is visible to that clinician).
    assigned: frozenset[str] = frozenset()

    @property
    def is_anonymous(self) -> bool:
        return self.role is Role.ANONYMOUS


ANONYMOUS = Actor(id=ANONYMOUS_ID, role=Role.ANONYMOUS)


@dataclass(frozen=True, slots=True)
class Canary:
    """A unique value planted in one patient's data. Seeing it proves that datum arrived."""

    value: str
    owner: str  # the patient actor id that owns it
    kind: CanaryKind
    label: str = ""  # human description: "appointment reason", "recording media" ...


@dataclass(frozen=True, slots=True)
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

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Step:
    """One action of a reproduction: enough to replay it against a fresh target."""

    actor: str
    action: str  # join, leave, switch, end, recordings, appointments, profile, recording, media
    arg: str = ""  # e.g. the mode for switch, the patient whose recording for recording/media


@dataclass(frozen=True, slots=True)
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
    canary_kind: CanaryKind | None = None
    evidence: str = ""  # redacted context, never the raw patient-like value
    suite: str = ""
    extra: tuple[tuple[str, str], ...] = field(default=())
    # The minimal steps that led here (filled by the suite), for `chaperone replay`.
    repro: tuple[Step, ...] = ()

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


@dataclass(frozen=True, slots=True)
class Exposure:
    """One row of a breach notification: whose data reached whom, where and when."""

    owner: str
    observer: str
    what: tuple[str, ...]  # canary kinds / labels seen
    surfaces: tuple[str, ...]
    first_seen: float
    last_seen: float
    findings: int
