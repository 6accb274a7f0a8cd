"""Everything one running clinic holds, reachable from a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from clinic.db import Database
from clinic.flags import FlagSource
from clinic.registry import CallRegistry
from clinic.settings import ClinicSettings
from clinic.ttlcache import TTLCache


@dataclass
class ClinicState:
    settings: ClinicSettings
    db: Database
    flags: FlagSource
    cache: TTLCache
    calls: CallRegistry = field(default_factory=lambda: CallRegistry())

    def active(self, fault: str) -> bool:
        return self.settings.active(fault)


def clinic_state(request: Request) -> ClinicState:
    state: ClinicState = request.app.state.clinic
    return state
