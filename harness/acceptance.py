"""Accepted exposures: the suppression baseline a policy may carry.

A team that knows about an exposure it cannot fix today (VAmPI's `_debug` route, say) lists it
with a reason and an expiry date. A finding that matches an unexpired entry is still reported,
marked `accepted`, but does not fail the gate; once the entry expires the same finding fails
again. Entries match on the finding's identity: route, and optionally data kind, check kind,
owner and observer (each `*` or omitted means any).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, Field

from harness.models import Finding

__all__ = ["AcceptedExposure", "acceptance_for"]


class AcceptedExposure(BaseModel):
    """One known exposure that does not fail the gate until `expires`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: str = Field(
        min_length=1,
        description="the route as findings name it, e.g. 'GET /users/v1/_debug' (fnmatch)",
    )
    data: str = Field("*", description="data kind (password, name, note ...); * for any")
    kind: str = Field("*", description="finding kind (canary-leak, foreign-<entity> ...)")
    owner_role: str = Field("*", description="role of the data's owner; * for any")
    observer_role: str = Field("*", description="role of who received it; * for any")
    reason: str = Field(min_length=3, description="why this is accepted, for the reviewer")
    expires: date = Field(description="the last day it is accepted (YYYY-MM-DD)")

    def active(self, today: date | None = None) -> bool:
        return (today or datetime.now(UTC).date()) <= self.expires

    def matches(self, finding: Finding, roles: dict[str, str] | None = None) -> bool:
        """Does this entry cover `finding`? `roles` maps actor ids to role names."""
        roles = roles or {}
        checks = (
            (self.route, finding.surface.where),
            (self.data, str(finding.canary_kind or "")),
            (self.kind, finding.kind),
            (self.owner_role, roles.get(finding.owner or "", "")),
            (self.observer_role, roles.get(finding.observer, "")),
        )
        return all(fnmatch.fnmatchcase(value, pattern) for pattern, value in checks)


def acceptance_for(
    finding: Finding,
    entries: Iterable[AcceptedExposure],
    roles: dict[str, str] | None = None,
    today: date | None = None,
) -> AcceptedExposure | None:
    """The unexpired entry that accepts `finding`, if any."""
    for entry in entries:
        if entry.active(today) and entry.matches(finding, roles):
            return entry
    return None
