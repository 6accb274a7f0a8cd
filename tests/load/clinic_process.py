"""The real clinic as a subprocess (`python -m chaperone clinic serve`), for integration tests."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.local_clinic import local_clinic


@dataclass
class Clinic:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def clinic_process(tmp: Path, faults: str = "") -> Iterator[Clinic]:
    """The real clinic subprocess, started the way the CLI starts it (harness.local_clinic)."""
    names = tuple(f for f in faults.split(",") if f)
    with local_clinic(names, data_dir=tmp / "data") as clinic:
        yield Clinic(clinic.url, clinic.support_token, clinic.process, clinic.log)
