"""The one constructor of a canary finding: another user's canary the observer received.

Every oracle that finds a canary (bytes, decoded views, a recording's pixels and sound) builds
its finding here, so each carries what triage keys root causes on (`reports.groups`): the
leaked object (`resource`) and the datum (`label`), whatever surface it was read from.
"""

from __future__ import annotations

from harness.models import Canary, Finding, Observation, Severity, Surface

__all__ = ["canary_extra", "canary_finding"]


def canary_finding(
    obs: Observation,
    canary: Canary,
    surface: Surface,
    *,
    check: str,
    message: str,
    evidence: str,
    encoding: str = "",
    extra: tuple[tuple[str, str], ...] = (),
) -> Finding:
    return Finding(
        check=check,
        kind="canary-leak",
        severity=Severity.CRITICAL,
        message=message,
        observer=obs.actor,
        surface=surface,
        step=obs.step,
        time=obs.time,
        owner=canary.owner,
        canary_kind=canary.kind,
        evidence=evidence,
        extra=canary_extra(canary.label, canary.resource, encoding) + extra,
    )


def canary_extra(label: str, resource: str, encoding: str = "") -> tuple[tuple[str, str], ...]:
    # The resource names the leaked object, which triage (reports.groups) keys causes on; the
    # encoding says how it was spelled when it was not as planted (`base64`, `gzip>jwt`).
    pairs = (("label", label), ("resource", resource), ("encoding", encoding))
    return tuple((k, v) for k, v in pairs if v)
