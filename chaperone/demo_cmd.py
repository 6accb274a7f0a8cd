"""`chaperone demo`: the whole story in one command, with no setup.

0. A throwaway gate key pair is made, and the demo policy is pinned on the local backend.
1. A faulty build of the clinic (the 2020 incident's bug) is gated: blocked, with findings.
2. The fixed build is gated: passes, and the verdict is signed.
3. The flag is enabled on the local backend, through the same checks as `flags enable`.
4. `watch` probes the live build for a short while with the flag on.
Then the verdicts, the audit history and the report paths.

Both gates drive the bundled clinic, so their verdicts are reference verdicts: they may enable
`development` only, which is where the demo enables.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from chaperone.checks import check_out
from chaperone.gating import Where, enable_after_gate, run_gate
from flags import actions
from flags.backends.kinds import BackendKind
from flags.backends.local import LocalBackend
from flags.gate import gate_options
from flags.history import read_history
from flags.keys import PUBLIC_NAME, SigningKey, new_signing_key
from flags.policy import BoundPolicy, bind_policy
from harness.childenv import child_env
from harness.errors import ExitCode
from harness.local_clinic import local_clinic
from reports.demo_console import DemoConsole

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
    bound = bind_policy(policy)
    out_dir = check_out(out)
    console = DemoConsole()
    state = out_dir / "flags" / "flags-state.json"
    key, public_key = _demo_keys(out_dir)
    backend = LocalBackend(state)
    log = actions.audit_path_for(None, state)
    actions.pin(actions.desk_for(backend, log, None), bound.policy.flag, bound)

    console.act(f"1/4 faulty build ({fault}): the gate must block it")
    blocked, _ = _gate(bound, out_dir / "faulty", "demo-faulty", (fault,), key)
    console.act("2/4 fixed build: the gate must pass it")
    passed, verdict_path = _gate(bound, out_dir / "fixed", "demo-fixed", (), key)
    enabled = watched = False
    if passed == "pass":
        console.act("3/4 enable the flag on the local backend (verdict-checked)")
        where = Where(BackendKind.local, state, None, "")
        enable_after_gate(verdict_path, "demo-fixed", "development", where, None, key.public())
        enabled = True
        console.act(f"4/4 watch the live build for {watch_seconds:.0f}s")
        # The live build follows the flag: its clinic reads the backend's development file.
        with local_clinic((), flags_file=backend.ensure_clinic_file("development")) as clinic:
            watch = _Watch(clinic.url, clinic.support_token, state, out_dir, policy)
            watched = watch.run(watch_seconds, verdict_path, public_key) == 0
    console.act("summary")
    console.history(read_history(backend, log, bound.policy.flag, None))
    ok = blocked == "fail" and passed == "pass" and enabled and watched
    console.summary(out_dir, blocked, passed, enabled, watched, ok)
    if not ok:
        raise typer.Exit(int(ExitCode.FAIL))


def _demo_keys(out_dir: Path) -> tuple[SigningKey, Path]:
    """A throwaway key pair: the private half stays in this process, the public half is what
    the watch (a separate command, as in real life) verifies with."""
    key = new_signing_key()
    public = out_dir / "keys" / PUBLIC_NAME
    public.parent.mkdir(parents=True, exist_ok=True)
    public.write_bytes(key.public().pem())
    return key, public


def _gate(
    bound: BoundPolicy, out: Path, build: str, faults: tuple[str, ...], key: SigningKey
) -> tuple[str, Path]:
    """A staging clinic of its own, with the feature on (its flags file starts ON), gated."""
    with local_clinic(faults) as clinic:
        verdict, path = run_gate(
            bound,
            clinic.url,
            clinic.support_token,
            build,
            check_out(out),
            gate_options(bound.policy, seed=0),
            key,
            reference=True,
        )
    return verdict.verdict, path


@dataclass(frozen=True)
class _Watch:
    """Watch runs as its own command, exactly as a release manager would start it: it raises
    the rollout through the pinned policy's stages while every probe stays clean."""

    url: str
    token: str
    state: Path
    out_dir: Path
    policy: Path

    def run(self, seconds: float, verdict: Path, public_key: Path) -> int:
        argv = [sys.executable, "-m", "chaperone", "watch", "--target", self.url]
        argv += ["--policy", str(self.policy), "--stages", "--verdict", str(verdict)]
        argv += ["--verify-key", str(public_key), "--env", "development", "--backend", "local"]
        argv += ["--state", str(self.state), "--interval", "2", "--duration", str(seconds)]
        argv += ["--out", str(self.out_dir / "watch")]
        env = child_env({"CHAPERONE_SUPPORT_TOKEN": self.token})
        return subprocess.run(argv, env=env, check=False).returncode
