"""The gate as `gate` and the demo run it: the suites through the console reporter, the reports,
the signed verdict; and enabling after a pass, through the same checks as `flags enable`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaperone.running import execute
from flags import actions, audit
from flags.backends.kinds import BackendKind, open_backend
from flags.gate import build_verdict, check_target_allowed, write_gate_verdict
from flags.keys import SigningKey, VerifyKey
from flags.policy import BoundPolicy
from flags.verdict import GateVerdict, file_sha256, read_signed
from harness.config import RunOptions
from harness.engine import RunRequest
from harness.profile import LoadedProfile, load_profile
from harness.sinks import Sinks
from reports.console import ConsoleReporter
from reports.flags_console import FlagsConsole


def run_gate(
    bound: BoundPolicy,
    url: str,
    token: str,
    build: str,
    out_dir: Path,
    options: RunOptions,
    key: SigningKey,
    *,
    reference: bool,
    build_digest: str | None = None,
    profile: LoadedProfile | None = None,
    sinks: Sinks | None = None,
) -> tuple[GateVerdict, Path]:
    """Run the suites through the console reporter, write the reports and the signed verdict."""
    rules = bound.policy
    check_target_allowed(rules, url)
    reporter = ConsoleReporter(secrets=[token], accepted=rules.accepted_exposures)
    loaded = profile or load_profile(rules.profile_path(bound.uri))
    request = RunRequest(url, options, out_dir, token, profile=loaded, build=build, sinks=sinks)
    result, paths = execute(request, reporter)
    report_digest = file_sha256(paths["json"]) if "json" in paths else None
    inputs = [(paths["json"].name, report_digest)] if report_digest else []
    verdict = build_verdict(
        bound,
        result,
        build,
        url,
        reference=reference,
        build_digest=build_digest,
        inputs=inputs,
        media=options.media,
    )
    verdict_path = write_gate_verdict(verdict, out_dir, key)
    reporter.summary(result, paths)
    FlagsConsole().verdict(verdict.model_dump(mode="json"), verdict_path)
    return verdict, verdict_path


@dataclass(frozen=True)
class Where:
    """Where the flag lives, for --enable."""

    backend: BackendKind
    state: Path
    flags_dir: Path | None
    unleash_url: str


def enable_after_gate(
    verdict: Path,
    build: str,
    env: str,
    where: Where,
    rollout: int | None,
    key: VerifyKey,
    build_digest: str | None = None,
) -> None:
    """The same checks as `chaperone flags enable`, with the public half of the gate's key."""
    flag = read_signed(verdict, key).flag
    ask = actions.EnableAsk(flag, env, verdict, build, audit.now_utc(), rollout, build_digest)
    with open_backend(where.backend, where.state, where.flags_dir, where.unleash_url) as flags:
        desk = actions.desk_for(flags, actions.audit_path_for(None, where.state), None)
        after, _ = actions.enable(desk, ask, key)
    FlagsConsole().say(f"{flag} enabled in {env} at {after.rollout}% for build {build}")
