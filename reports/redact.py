"""Mask secrets and patient-like values before anything is written or printed.

Pattern-based masking covers credentials whose values we cannot know in advance (bearer
tokens, `token=` query values, support tokens, Authorization headers, session cookies, Unleash
API tokens). Known values (canary strings, synthetic patient names, passwords) are passed in
as `secrets` and replaced wherever they occur.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from harness.events import CaseFinished
from harness.models import Finding, Surface
from reports.result import FindingRecord, RunResult, SuiteResult

MASK = "[REDACTED]"

# Shorter known values would mask ordinary words all over the report.
MIN_SECRET_LENGTH = 3
# A known value shorter than this is masked only where it stands alone, not inside a longer
# name: a 5-character support token "video" must not turn the flag "video-switch" into
# "[REDACTED]-switch". Longer values are random enough to mask wherever they occur.
WHOLE_WORD_BELOW = 16
_WORD = r"A-Za-z0-9_-"

_HEADER_NAMES = r"(?:authorization|proxy-authorization|x-support-token|x-api-key|cookie|set-cookie)"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Credentials inside a URL: scheme://user:password@host -> scheme://[REDACTED]@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\"'<>]+@"), rf"\g<1>{MASK}@"),
    # "Authorization: Bearer abc" / "X-Support-Token: abc" as a header line.
    (re.compile(rf"(?im)^(\s*{_HEADER_NAMES}\s*:\s*)(\S.*?)\s*$"), rf"\g<1>{MASK}"),
    # ('Authorization', 'abc') tuples and "Authorization": "abc" JSON pairs.
    (
        re.compile(rf"(?i)([\"']{_HEADER_NAMES}[\"']\s*[:,]\s*[\"'])([^\"']*)([\"'])"),
        rf"\g<1>{MASK}\g<3>",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\g<1> {MASK}"),
    (
        re.compile(
            r"(?i)([?&;\s\"']|^)([\w-]*(?:token|secret|password|passwd|api_key))=([^&\s\"'#;]+)"
        ),
        rf"\g<1>\g<2>={MASK}",
    ),
    (re.compile(r"(?i)\b(session[\w-]*|sessionid|sid)=([^;\s\"',]+)"), rf"\g<1>={MASK}"),
    # Unleash tokens: "<project>:<environment>.<secret>", e.g. "*:*.abc" or
    # "default:development.abc". Both halves start with a letter or '*' so clock times
    # ("12:58:56.123") do not match.
    (
        re.compile(r"(?<![\w/])(\*|[A-Za-z][\w-]*):(\*|[A-Za-z][\w-]*)\.[\w-]{6,}"),
        rf"\g<1>:\g<2>.{MASK}",
    ),
)


class Redactor:
    """Reusable masker; compiles the known values once."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._known = known_values(secrets)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if self._known is not None:
            text = self._known.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def deep(self, value: object) -> object:
        """Redact every string inside JSON-like data (metrics), keeping its shape."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {str(k): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value


def known_values(
    secrets: Iterable[str], min_length: int = MIN_SECRET_LENGTH
) -> re.Pattern[str] | None:
    """One pattern for every known secret: longest first, so a name is not partly masked by a
    shorter value inside it; a short one only as a whole word (WHOLE_WORD_BELOW)."""
    values = {s for s in secrets if s and len(s) >= min_length}
    ordered = sorted(values, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(map(_alternative, ordered)))


def _alternative(secret: str) -> str:
    if len(secret) >= WHOLE_WORD_BELOW:
        return re.escape(secret)
    return rf"(?<![{_WORD}]){re.escape(secret)}(?![{_WORD}])"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask credentials and any of `secrets` in `text`."""
    return Redactor(secrets)(text)


def redact_result(result: RunResult, secrets: Iterable[str] = ()) -> RunResult:
    """A copy of `result` with every free-text field masked, ready to be written.

    Actor ids, repro steps and artifact paths are kept: replay and exposures need them. Finding
    keys are recomputed from the masked surface, so case references are remapped to match.
    """
    mask = Redactor(secrets)
    records = tuple(_redact_record(r, mask) for r in result.findings)
    new_key = {old.key: new.key for old, new in zip(result.findings, records, strict=True)}
    return dataclasses.replace(
        result,
        target=mask(result.target),
        suites=tuple(_redact_suite(s, mask) for s in result.suites),
        cases=tuple(_redact_case(c, mask, new_key) for c in result.cases),
        findings=records,
        exposures=tuple(
            dataclasses.replace(e, surfaces=tuple(mask(s) for s in e.surfaces))
            for e in result.exposures
        ),
        errors=tuple(dataclasses.replace(e, message=mask(e.message)) for e in result.errors),
        reasons=tuple(mask(r) for r in result.reasons),
    )


def _redact_record(record: FindingRecord, mask: Redactor) -> FindingRecord:
    return dataclasses.replace(record, finding=redact_finding(record.finding, mask))


def redact_finding(f: Finding, mask: Redactor) -> Finding:
    """The finding as report.json and incident.json may hold it. Its key follows the masked
    surface, so a finding's key in a written file is the one its own fields give."""
    return dataclasses.replace(
        f,
        message=mask(f.message),
        evidence=mask(f.evidence),
        surface=Surface(f.surface.kind, mask(f.surface.where)),
        extra=tuple((k, mask(v)) for k, v in f.extra),
    )


def _redact_suite(suite: SuiteResult, mask: Redactor) -> SuiteResult:
    metrics = mask.deep(dict(suite.metrics))
    assert isinstance(metrics, dict)  # deep() keeps a dict a dict
    return dataclasses.replace(suite, message=mask(suite.message), metrics=metrics)


def _redact_case(case: CaseFinished, mask: Redactor, new_key: dict[str, str]) -> CaseFinished:
    keys = tuple(new_key.get(k, k) for k in case.finding_keys)
    return dataclasses.replace(case, message=mask(case.message), finding_keys=keys)
