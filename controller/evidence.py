"""What a verified verdict says, kept in the signed audit row of the decision that used it.

The controller does not store verdict files; the audit row is where the dashboard (and anyone
auditing a decision later) reads on what evidence a flag was turned on: the suites, coverage,
findings and exposures, when the verdict was made and when it expires, and the reports it
summarises.
"""

from __future__ import annotations

from typing import Any

from flags.verdict import GateVerdict


def verdict_evidence(verdict: GateVerdict) -> dict[str, Any]:
    return {
        "result": verdict.verdict,
        "created_at": verdict.created_at.isoformat(),
        "expires_at": verdict.expires_at.isoformat(),
        "suites": dict(verdict.suites),
        "coverage": verdict.coverage,
        "findings": verdict.findings,
        "exposures": verdict.exposures,
        "reference": verdict.reference,
        "target": verdict.target,
        "reports": [{"uri": uri, "sha256": sha} for uri, sha in verdict.inputs],
    }
