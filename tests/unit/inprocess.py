"""The real clinic app, served in-process through httpx's ASGI transport: fast engine tests
that still exercise the real target code (no mock of the clinic's behaviour)."""

from __future__ import annotations

from pathlib import Path

import httpx

from clinic.app import create_app
from clinic.settings import ClinicSettings
from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.events import Event

TOKEN = "unit-support-token"
BASE = "http://clinic.test"


def transport(data_dir: Path, faults: frozenset[str] = frozenset()) -> httpx.ASGITransport:
    settings = ClinicSettings(data_dir=data_dir, support_token=TOKEN, faults=faults)
    return httpx.ASGITransport(app=create_app(settings))


def run_inprocess(
    tmp: Path, options: RunOptions, faults: frozenset[str] = frozenset()
) -> list[Event]:
    (tmp / "clinic").mkdir(exist_ok=True)
    request = RunRequest(
        BASE, options, tmp / "out", TOKEN, transport=transport(tmp / "clinic", faults)
    )
    return list(run(request))
