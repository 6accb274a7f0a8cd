"""No flakes: clean gates with a CPU-stress neighbour (one busy process per core), counted.

    python -m bench.soak_bench OUT [GATES] [POLICY]

Each gate is `chaperone gate` against the clean local clinic, as a user runs it, while every
core also runs a busy loop: the load a shared CI runner sees. Every gate must pass: no
`error`, no finding. The default policy is the demo policy (every suite, a small population) so
ten gates fit in a bench run; pass the release policy to soak that instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from flags.keys import SIGNING_KEY_ENV, new_signing_key

GATES = 10
POLICY = Path(__file__).resolve().parent.parent / "flags" / "policies" / "demo.yaml"
_BUSY = (
    "import signal, sys; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\nwhile True: pass"
)


def _stress() -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen([sys.executable, "-c", _BUSY], stdout=subprocess.DEVNULL)
        for _ in range(os.cpu_count() or 2)
    ]


def _gate(index: int, out: Path, policy: Path, env: dict[str, str]) -> dict[str, object]:
    where = out / f"gate-{index}"
    argv = [sys.executable, "-m", "chaperone", "gate", "--build", f"soak-{index}"]
    argv += ["--policy", str(policy), "--seed", str(index), "--out", str(where)]
    started = time.monotonic()
    with (out / f"gate-{index}.log").open("wb") as log:
        code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    try:
        report = json.loads((where / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = {}
    return {
        "gate": index,
        "exit_code": code,
        "verdict": report.get("verdict", "missing"),
        "findings": len(report.get("findings", [])),
        "reasons": report.get("reasons", []),
        "seconds": round(time.monotonic() - started, 1),
    }


def main(out: Path, gates: int = GATES, policy: Path = POLICY) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, SIGNING_KEY_ENV: new_signing_key().pem().decode()}
    busy = _stress()
    try:
        runs = []
        for i in range(gates):
            runs.append(_gate(i, out, policy, env))
            # Written after every gate, so a soak cut short still shows what it saw.
            (out / "soak-progress.json").write_text(json.dumps(runs, indent=1), encoding="utf-8")
    finally:
        for process in busy:
            process.terminate()
        for process in busy:
            process.wait(timeout=10)
    passed = sum(1 for r in runs if r["exit_code"] == 0 and r["verdict"] == "pass")
    figures = {
        "soak_clean_gates_passed": f"{passed}/{gates}",
        "soak_passed": passed,
        "soak_gates": gates,
        "soak_policy": policy.name,
        "soak_stress_processes": os.cpu_count() or 2,
        "soak_runs": runs,
    }
    (out / "soak.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return figures


if __name__ == "__main__":
    count = int(sys.argv[2]) if len(sys.argv) > 2 else GATES
    chosen = Path(sys.argv[3]) if len(sys.argv) > 3 else POLICY
    print(json.dumps(main(Path(sys.argv[1]), count, chosen), indent=1))
