"""Regenerate README.md's "How well it works" section from selftest.json and bench.json, so no
figure in the README is ever typed by hand.

    python scripts/readme_figures.py --selftest OUT/selftest.json --bench OUT/bench.json \
        [--readme README.md]

The section lives between `<!-- figures:start -->` and `<!-- figures:end -->`. If README.md has
no such markers, the section is printed to stdout to be pasted in once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

START = "<!-- figures:start -->"
END = "<!-- figures:end -->"
SUITE_ORDER = ("switch", "access", "stateful", "load", "fuzz", "browser")


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object")
    return data


def matrix(selftest: Mapping[str, Any]) -> list[str]:
    faults: Mapping[str, Any] = selftest.get("faults", {})
    columns = _columns(faults)
    lines = [
        "| planted fault | " + " | ".join(columns) + " | detected |",
        "|---|" + "---:|" * len(columns) + ":---:|",
    ]
    for name, fault in faults.items():
        cells = [_cell(fault, column) for column in columns]
        mark = "yes" if fault.get("detected") else "**no**"
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {mark} |")
    return lines


def _columns(faults: Mapping[str, Any]) -> list[str]:
    seen = {s for f in faults.values() for s in f.get("suites_run", f.get("suites", []))}
    rank = {name: i for i, name in enumerate(SUITE_ORDER)}
    return sorted(seen, key=lambda n: (rank.get(n, len(rank)), n))


def _cell(fault: Mapping[str, Any], suite: str) -> str:
    if suite not in fault.get("suites_run", fault.get("suites", [])):
        return "-"
    count = suite_count(fault, suite)
    return f"**{count}**" if count else "0"


def suite_count(fault: Mapping[str, Any], suite: str) -> int:
    """Findings of one suite. The fuzz suite's warm-up scenario finds what the switch suite
    would; its column counts only the leaks its own generated requests reached."""
    details = fault.get("fuzz") if suite == "fuzz" else None
    if details:
        return int(details.get("from_fuzz_traffic", 0))
    return int(fault.get("by_suite", {}).get(suite, 0))


def clean_line(selftest: Mapping[str, Any]) -> str:
    clean = selftest.get("clean", {})
    runs, noisy, errors = (
        clean.get("runs", 0),
        clean.get("runs_with_findings", 0),
        clean.get("errors", 0),
    )
    seeds = clean.get("seed_count", runs)
    detected = sum(1 for f in selftest.get("faults", {}).values() if f.get("detected"))
    total = len(selftest.get("faults", {}))
    mode = " (quick mode)" if selftest.get("quick") else ""
    over = f"{seeds} seed(s)" + (f" ({runs} runs)" if runs != seeds else "")
    return (
        f"{detected} of {total} planted faults detected{mode}; the clean clinic over {over}: "
        f"{noisy} run(s) with findings, {errors} run(s) with errors."
    )


def causes_line(selftest: Mapping[str, Any]) -> str:
    """Triage's figure: how many root causes each detected fault's targeted run came out as."""
    causes: Mapping[str, int] = selftest.get("root_causes") or {}
    if not causes:
        return ""
    spread = ", ".join(
        f"{k} with {n} root cause{'s' if n != '1' else ''}" for n, k in causes.items()
    )
    split = selftest.get("split") or []
    over = f" (more than 2: {', '.join(split)})" if split else ""
    return f"Triage: of the detected faults, {spread}{over}."


def duration_line(selftest: Mapping[str, Any]) -> str:
    """How long the whole scorecard took, and how many runs it kept going at once."""
    if "seconds" not in selftest:
        return ""
    runs, processes = selftest.get("runs"), selftest.get("processes")
    what = f"{runs} runs" if runs is not None else "the runs"
    if processes is not None and processes != runs:
        what += f" in {processes} processes"  # clean seeds share `chaperone run` processes
    cpu = selftest.get("cpu_seconds")
    spent = f", {float(cpu):.0f} CPU-seconds in all" if cpu else ""
    return (
        f"The whole selftest ({what}) took {float(selftest['seconds']):.0f} s with "
        f"{selftest.get('jobs', 1)} run(s) at a time{spent}."
    )


BENCH_ROWS: tuple[tuple[str, str, str], ...] = (
    ("oracle_mb_per_s", "leak oracle throughput (10,000 canaries)", "MB/s"),
    ("oracle_mb_per_cpu_s", "leak oracle throughput per CPU second", "MB/s"),
    ("load_rps_checked", "load suite, every response leak-checked", "req/s"),
    ("load_rps_bare", "load suite, bare", "req/s"),
    ("load_rps_ratio_checked_vs_bare", "checked / bare throughput", ""),
    (
        "gate_seconds_release_policy",
        "full gate, release policy (20 patients, 4 clinicians, 3 seeds)",
        "s",
    ),
    ("gate_cpu_seconds", "full gate, CPU seconds (gate, clinic, Locust, Chromium)", "s"),
    ("gate_reads_by_source", "full gate, reads by source", ""),
    ("scaling_exponent", "switch+access run time vs patients (4 to 64), fitted exponent", ""),
    ("soak_clean_gates_passed", "clean gates passed beside a busy process per core", ""),
    ("selftest_seconds", "full selftest (every planted fault, every clean seed)", "s"),
    ("shrink_steps", "stateful counterexample for the 2020 bug, steps", ""),
    ("shrink_patients", "stateful counterexample for the 2020 bug, patients", ""),
    ("media_calls_sustained", "real WebRTC calls at once, every recording read (320x240)", ""),
    ("media_load_calls_sustained", "real WebRTC calls at once through Locust, judged clean", ""),
    ("media_oracle_x_realtime_per_core", "media oracle decode speed per core", "x real time"),
    ("media_frames_read_share", "sampled video frames whose code was read", ""),
)


def bench_table(bench: Mapping[str, Any]) -> list[str]:
    lines = ["| figure | value |", "|---|---:|"]
    for key, label, unit in BENCH_ROWS:
        if key in bench:
            lines.append(f"| {label} | {_value(bench[key])}{' ' + unit if unit else ''} |")
    corpus = _corpus(bench)
    if corpus:
        lines.append(f"| leaks planted in the oracle's corpus, found exactly | {corpus} |")
    for part in bench.get("failed", []):
        lines.append(f"| {part} | not measured (error) |")
    return lines


def _value(value: Any) -> str:
    """A figure as a cell: a mapping (reads by source) as `name count` pairs."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _corpus(bench: Mapping[str, Any]) -> str:
    """The oracle bench's planted leaks: how many were found exactly, of them encoded."""
    planted = bench.get("leaks_planted")
    if not isinstance(planted, int):
        return ""
    found = planted - len(bench.get("leaks_missed") or [])
    extra = len(bench.get("leaks_unexpected") or [])
    encoded = bench.get("leaks_planted_encoded", 0)
    surplus = f", {extra} unexpected" if extra else ""
    return f"{found} of {planted} ({encoded} of them encoded){surplus}"


def machine_line(machine: Mapping[str, Any]) -> str:
    if not machine:
        return "Machine: unknown."
    load = machine.get("load_average_start") or []
    shared = f", 1-minute load average {load[0]} at the start" if load else ""
    return (
        f"Machine: {machine.get('cpu_count', '?')} CPU(s), Python {machine.get('python', '?')}, "
        f"{machine.get('platform', '?')}{shared}."
    )


def render(selftest: Mapping[str, Any], bench: Mapping[str, Any]) -> str:
    """The whole section, markers included."""
    lines = [
        START,
        "<!-- generated by scripts/readme_figures.py from selftest.json and bench.json; "
        "do not edit by hand -->",
        "",
        "### Detection (`chaperone selftest`)",
        "",
        "Findings each suite raised against the reference clinic with one fault planted "
        "(- = suite not run; fuzz = leaks reached by the fuzz suite's own generated requests, "
        "in a run of the fuzz suite alone):",
        "",
        *matrix(selftest),
        "",
        clean_line(selftest),
        *[line for line in [causes_line(selftest), duration_line(selftest)] if line],
        machine_line(selftest.get("machine", {})),
        "",
        "### Speed (`python -m bench`)",
        "",
        *bench_table(bench),
        "",
        machine_line(bench.get("machine", {})),
        END,
    ]
    return "\n".join(lines)


def replace_section(readme: str, section: str) -> str | None:
    """README text with the section swapped in, or None when the markers are missing."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        return None
    return readme[:start] + section + readme[end + len(END) :]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--selftest", type=Path, required=True)
    parser.add_argument("--bench", type=Path, required=True)
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args(argv)
    section = render(load(args.selftest), load(args.bench))
    readme = args.readme.read_text(encoding="utf-8") if args.readme.exists() else ""
    updated = replace_section(readme, section)
    if updated is None:
        sys.stdout.write(section + "\n")
        sys.stderr.write(f"{args.readme}: no {START} / {END} markers; section printed above\n")
        return 0
    args.readme.write_text(updated, encoding="utf-8")
    sys.stderr.write(f"updated {args.readme}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
