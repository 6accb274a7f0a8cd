"""Developer sessions. They run in the current environment (the .venv that .ci/bootstrap made),
so `nox -s tests` costs no reinstall; `.ci/bootstrap` is what installs things."""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests"]

PACKAGES = [
    "chaperone",
    "harness",
    "scenarios",
    "load",
    "reports",
    "flags",
    "selftest",
    "clinic",
    "controller",
]
PY = sys.executable
BIN = Path(PY).parent


@nox.session
def tests(session: nox.Session) -> None:
    """The full test suite: unit and integration (real clinic, PostgreSQL, Unleash, Chromium,
    Locust subprocesses). Extra arguments go to pytest. Repeats of the slowest end-to-end
    proofs over more seeds (marker `proof`) are left to `nox -s proofs`, to keep CI under 45
    minutes; each proof's first seed stays here."""
    session.run(PY, "-m", "pytest", "-m", "not proof", *(session.posargs or ["-q"]))


@nox.session
def proofs(session: nox.Session) -> None:
    """The slowest end-to-end proofs repeated over more seeds and faults (marker `proof`)."""
    session.run(PY, "-m", "pytest", "-q", "-m", "proof", *session.posargs)


@nox.session
def unit(session: nox.Session) -> None:
    """Only the fast tests (no real services)."""
    session.run(PY, "-m", "pytest", "-q", "-m", "not integration", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, mypy --strict over every package, and the import-layer contracts."""
    session.run(str(BIN / "ruff"), "check", ".")
    session.run(str(BIN / "ruff"), "format", "--check", ".")
    session.run(str(BIN / "mypy"), *PACKAGES)
    session.run(str(BIN / "lint-imports"))


@nox.session
def bench(session: nox.Session) -> None:
    """Speed figures as JSON: `nox -s bench -- --out DIR` writes DIR/bench.json."""
    session.run(PY, "-m", "bench", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """No flakes: 10 clean gates with a busy process on every core (`-- --out DIR`)."""
    session.run(PY, "-m", "bench", "--only", "soak", *(session.posargs or ["--out", "soak-out"]))


@nox.session
def selftest(session: nox.Session) -> None:
    """The full detection scorecard: every planted fault, and the clean clinic over many seeds."""
    session.run(PY, "-m", "chaperone", "selftest", *(session.posargs or ["--out", "selftest-out"]))
