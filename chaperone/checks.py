"""What commands check before any traffic: the target URL and the policy's allowed targets,
the output directory, scenario names, and run options turned into RunOptions with one-line
errors."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import ValidationError

from flags.gate import check_target_allowed
from flags.policy import load_policy
from harness.config import RunOptions
from harness.errors import ConfigError, UsageError
from harness.profile import LoadedProfile
from harness.suites import DEFAULT_SUITES, check_suite_names


def check_target(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--target '{target}' is not an http(s) URL",
            "pass something like --target http://127.0.0.1:8000",
        )
    return target.rstrip("/")


def check_allowed(policy: Path, target: str | None) -> None:
    """Refuse a --target outside the policy's allowed_targets before any traffic."""
    if target is not None:
        check_target_allowed(load_policy(policy), check_target(target))


def check_out(out: Path) -> Path:
    """Fail before any traffic is sent if the reports could not be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".chaperone-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write to --out {out}: {exc.strerror or exc}", "pass a writable directory"
        ) from None
    return out


def check_scenarios(profile: LoadedProfile, names: Sequence[str]) -> None:
    """Refuse an unknown --scenario before anything runs."""
    from scenarios.switch import all_scenarios

    known = {s.name for s in all_scenarios(profile.profile.scenarios)}
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"choose from {', '.join(sorted(known))}"
            )
            raise UsageError(f"unknown scenario '{name}'", hint)


def check_media(profile: LoadedProfile, media: str) -> Literal["header", "real"]:
    """Refuse `--media` values, and real media for a profile that says nothing of its calls;
    the value, checked."""
    if media not in ("header", "real"):
        raise UsageError(f"--media '{media}' is not header or real", "pass --media real or drop it")
    if media == "real" and profile.profile.media is None:
        raise UsageError(
            f"--media real, but profile '{profile.profile.name}' has no media: section",
            "describe the app's signalling in the profile (docs/media.md) or drop --media",
        )
    return "real" if media == "real" else "header"


def build_options(**fields: object) -> RunOptions:
    requested = fields.get("suites")
    suites = tuple(map(str, requested)) if isinstance(requested, list | tuple) else ()
    suites = suites or DEFAULT_SUITES
    check_suite_names(suites)
    fields["suites"] = suites
    try:
        return RunOptions(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"--{field.replace('_', '-')}: {error['msg']}", "see --help") from None


def load_master(
    expect_workers: int, host: str, port: int, join_seconds: float = 30.0
) -> dict[str, object]:
    """The load master's options, checked as RunOptions checks them."""
    fields: dict[str, object] = {
        "expect_workers": expect_workers,
        "master_bind_host": host,
        "master_bind_port": port,
        "load_join_seconds": join_seconds,
    }
    build_options(suites=("load",), **fields)
    return fields
