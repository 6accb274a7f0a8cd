"""`python -m bench --out DIR [--only oracle,load,gate,shrink,scaling,soak,selftest,media]`:
every speed figure in one JSON file, DIR/bench.json.

Each part runs on its own: a part that raises is recorded as {"error": "..."} and the others
are still measured and written; the exit code is then 1. Headline figures (oracle_mb_per_s,
load_rps_ratio_checked_vs_bare, gate_seconds_clean, shrink_steps, ...) are also copied to the
top level so scripts/readme_figures.py reads one flat mapping.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from selftest.machine import machine_facts

Part = Callable[[Path], Mapping[str, Any]]


def _oracle(out: Path) -> Mapping[str, Any]:
    from bench import oracle_bench

    return oracle_bench.main(out / "oracle.json")


LOAD_ROUNDS = 4


def _load(out: Path) -> Mapping[str, Any]:
    from bench import load_bench

    # Two rounds in ABBA order: one bare/checked pair on a shared 2-core machine swings by
    # more than the leak check costs, so a single pair is not a measurement.
    return load_bench.main(out, rounds=LOAD_ROUNDS)


def _gate(out: Path) -> Mapping[str, Any]:
    from bench import gate_bench

    return gate_bench.main(out)


def _shrink(out: Path) -> Mapping[str, Any]:
    from bench import shrink_bench

    return shrink_bench.main(out)


def _scaling(out: Path) -> Mapping[str, Any]:
    from bench import scaling_bench

    return scaling_bench.main(out)


def _soak(out: Path) -> Mapping[str, Any]:
    from bench import soak_bench

    return soak_bench.main(out)


def _selftest(out: Path) -> Mapping[str, Any]:
    from bench import selftest_bench

    return selftest_bench.main(out)


def _media(out: Path) -> Mapping[str, Any]:
    from bench import media_bench

    # The direct calls, then 10 real calls through Locust (the gate with real media takes many
    # minutes: `python -m bench.media_bench --gate`).
    return {**media_bench.main(out / "media.json"), **media_bench.load_calls(out / "load")}


PARTS: dict[str, Part] = {
    "oracle": _oracle,
    "load": _load,
    "gate": _gate,
    "shrink": _shrink,
    "scaling": _scaling,
    "soak": _soak,
    "selftest": _selftest,
    "media": _media,
}


def run_parts(parts: Mapping[str, Part], out: Path, console: Console) -> dict[str, Any]:
    """Run each part in its own directory; a failure is recorded, never fatal to the rest."""
    results: dict[str, Any] = {}
    for name, part in parts.items():
        console.print(f"bench: {name} ...")
        where = out / name
        where.mkdir(parents=True, exist_ok=True)
        try:
            results[name] = dict(part(where))
        except Exception as exc:  # one broken part must not lose the others' figures
            (where / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        console.print(f"bench: {name}: {_brief(results[name])}")
    return results


def _brief(figures: Mapping[str, Any]) -> str:
    if "error" in figures:
        return f"[bold red]ERROR[/] {figures['error']}"
    return ", ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, dict))


def report(results: Mapping[str, Any]) -> dict[str, Any]:
    """bench.json: the flat headline figures, each part in full, and the machine."""
    flat: dict[str, Any] = {}
    for figures in results.values():
        flat |= {k: v for k, v in figures.items() if k != "error"}
    failed = sorted(name for name, figures in results.items() if "error" in figures)
    return {**flat, "parts": dict(results), "failed": failed, "machine": machine_facts()}


def choose(only: str | None) -> dict[str, Part]:
    names = [n.strip() for n in (only or "").split(",") if n.strip()] or list(PARTS)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise SystemExit(
            f"bench: unknown part {', '.join(unknown)}; choose from {', '.join(PARTS)}"
        )
    return {n: PARTS[n] for n in names}


def main(argv: Sequence[str] | None = None, parts: Mapping[str, Part] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(PARTS)}")
    args = parser.parse_args(argv)
    selected = choose(args.only) if parts is None else dict(parts)
    console = Console(stderr=True, soft_wrap=True)
    args.out.mkdir(parents=True, exist_ok=True)
    document = report(run_parts(selected, args.out, console))
    path = args.out / "bench.json"
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    console.print(
        f"bench: wrote {path}" + (f"; failed: {document['failed']}" if document["failed"] else "")
    )
    return 1 if document["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
