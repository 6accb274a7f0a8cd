"""`chaperone demo`: the whole story in one command, with no setup.

1. A faulty build of the clinic (the 2020 incident's bug) is gated: blocked, with findings.
2. The fixed build is gated: passes, and the verdict is signed.
3. The flag is enabled on the local backend, through the same checks as `flags enable`.
4. `watch` probes the live build for a short while with the flag on.
Then the verdicts, the audit history and the report paths.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.rule import Rule

from chaperone.gate_cmd import enable_after_gate, run_gate
from chaperone.run_cmd import check_out
from flags.cli import BackendKind
from flags.cli import history as flag_history
from flags.gate import gate_options
from flags.policy import Policy, load_policy
from flags.verdict import KEY_ENV
from harness.errors import ExitCode
from harness.local_clinic import local_clinic

DEMO_POLICY = Path(__file__).resolve().parent.parent / "flags" / "policies" / "demo.yaml"
INCIDENT_FAULT = "switch-recording-misattribution"


def demo_command(
    out: Annotated[
        Path, typer.Option(help="Directory for every report, verdict and the flag state.")
    ] = Path("chaperone-demo"),
    policy: Annotated[
        Path,
        typer.Option(
            help="Policy to gate with (a smaller copy of the release policy, so the demo is quick)."
        ),
    ] = DEMO_POLICY,
    fault: Annotated[str, typer.Option(help="Fault planted in the 'faulty build'.")] = (
        INCIDENT_FAULT
    ),
    watch_seconds: Annotated[
        float,
        typer.Option(
            help="Longest watch after enabling (it ends once the last rollout stage is clean)."
        ),
    ] = 40.0,
) -> None:
    """Show the gate blocking the 2020 incident's bug, then passing and enabling the fix.

    Needs nothing but this package (and Debian's chromium for the browser suite): the clinic
    is started locally twice, the flag lives in a local state file under --out. Exit 0 when
    the story went as it should: faulty build blocked, fixed build passed and enabled, watch
    clean.
    """
    rules = load_policy(policy)
    os.environ.setdefault(KEY_ENV, secrets.token_hex(16))  # a demo-only signing key
    out_dir = check_out(out)
    console = Console()
    state = out_dir / "flags" / "flags-state.json"
    state.parent.mkdir(parents=True, exist_ok=True)

    console.print(Rule(f"1/4 faulty build ({fault}): the gate must block it"))
    blocked = _gate(rules, out_dir / "faulty", "demo-faulty", (fault,), None)
    console.print(Rule("2/4 fixed build: the gate must pass it"))
    flags_file = state.with_name("flags.json")
    with local_clinic((), flags_file=flags_file) as clinic:
        passed, verdict_path = run_gate(
            rules,
            clinic.url,
            clinic.support_token,
            "demo-fixed",
            check_out(out_dir / "fixed"),
            gate_options(rules, seed=0),
        )
        enabled = watched = False
        if passed.verdict == "pass":
            console.print(Rule("3/4 enable the flag on the local backend (verdict-checked)"))
            enable_after_gate(
                rules,
                policy,
                verdict_path,
                "demo-fixed",
                "development",
                BackendKind.local,
                state,
                "",
                None,
            )
            enabled = True
            console.print(Rule(f"4/4 watch the live build for {watch_seconds:.0f}s"))
            watched = (
                _watch(clinic.url, clinic.support_token, state, out_dir, watch_seconds, policy) == 0
            )
    console.print(Rule("summary"))
    flag_history(
        name=rules.flag,
        env=None,
        backend=BackendKind.local,
        state=state,
        bootstrap_out=None,
        unleash_url="",
        audit_path=None,
        as_json=False,
    )
    ok = blocked == "fail" and passed.verdict == "pass" and enabled and watched
    _summary(console, out_dir, blocked, passed.verdict, enabled, watched, ok)
    if not ok:
        raise typer.Exit(int(ExitCode.FAIL))


def _gate(
    rules: Policy, out: Path, build: str, faults: tuple[str, ...], flags_file: Path | None
) -> str:
    with local_clinic(faults, flags_file=flags_file) as clinic:
        verdict, _ = run_gate(
            rules,
            clinic.url,
            clinic.support_token,
            build,
            check_out(out),
            gate_options(rules, seed=0),
        )
    return verdict.verdict


def _watch(url: str, token: str, state: Path, out_dir: Path, seconds: float, policy: Path) -> int:
    """Watch runs as its own command, exactly as a release manager would start it: it raises
    the rollout through the policy's stages while every probe stays clean."""
    argv = [
        sys.executable,
        "-m",
        "chaperone",
        "watch",
        "--target",
        url,
        "--policy",
        str(policy),
        "--stages",
        "--env",
        "development",
        "--backend",
        "local",
        "--state",
        str(state),
        "--interval",
        "2",
        "--duration",
        str(seconds),
        "--out",
        str(out_dir / "watch"),
    ]
    env = {**os.environ, "CHAPERONE_SUPPORT_TOKEN": token}
    return subprocess.run(argv, env=env, check=False).returncode


def _summary(
    console: Console,
    out_dir: Path,
    blocked: str,
    passed: str,
    enabled: bool,
    watched: bool,
    ok: bool,
) -> None:
    console.print(f"faulty build verdict: [bold]{blocked}[/] (expected fail: flag kept off)")
    console.print(f"fixed build verdict:  [bold]{passed}[/] (expected pass)")
    console.print(f"flag enabled: {enabled}; watch clean: {watched}")
    for name in ("faulty", "fixed"):
        console.print(
            f"{name} reports: {out_dir / name / 'report.html'}  "
            f"verdict: {out_dir / name / 'verdict.json'}"
        )
    console.print(
        "[bold green]demo: the gate did its job[/]"
        if ok
        else "[bold red]demo: something did not go as expected (see above)[/]"
    )
