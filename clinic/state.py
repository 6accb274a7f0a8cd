"""Everything one running clinic holds, reachable from a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request
from starlette.requests import HTTPConnection

from clinic.caseload import CaseloadCache
from clinic.db import Database
from clinic.events import EventHub
from clinic.flags import FlagSource
from clinic.notify import Outbox
from clinic.registry import CallRegistry
from clinic.settings import ClinicSettings
from clinic.tokens import TokenCache
from clinic.ttlcache import TTLCache

if TYPE_CHECKING:  # aiortc, PyAV and numpy load only for `--media real` (build_state)
    from clinic.media_rtc import MediaEndpoint


@dataclass
class ClinicState:
    settings: ClinicSettings
    db: Database
    flags: FlagSource
    cache: TTLCache
    outbox: Outbox
    calls: CallRegistry = field(default_factory=lambda: CallRegistry())
    caseloads: CaseloadCache = field(default_factory=lambda: CaseloadCache())
    events: EventHub = field(default_factory=lambda: EventHub())
    tokens: TokenCache = field(default_factory=lambda: TokenCache())
    rtc: MediaEndpoint | None = None  # only with `--media real`

    def active(self, fault: str) -> bool:
        return self.settings.active(fault)


async def clinic_state(request: Request) -> ClinicState:
    # async so FastAPI calls it on the event loop: a plain `def` dependency costs a hop to the
    # worker threads (and a GIL handoff) on every request, for an attribute read.
    return state_of(request)


def state_of(connection: HTTPConnection) -> ClinicState:
    state: ClinicState = connection.app.state.clinic
    return state
