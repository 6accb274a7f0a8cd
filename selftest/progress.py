"""What the line for one finished run says, decided from its scores: reports.selftest_console
draws it."""

from __future__ import annotations

from reports.selftest_console import RunLine
from selftest.outcome import RunOutcome
from selftest.scoring import score_clean, score_fault


def run_line(outcome: RunOutcome) -> RunLine:
    label, seconds = outcome.planned.label, outcome.seconds
    if outcome.planned.kind == "fault":
        return _fault_line(outcome, label, seconds)
    seeds = score_clean(outcome)
    broken = [s for s in seeds if s.infra_error or s.errored]
    if broken:
        why = broken[0].infra_error or "; ".join(dict.fromkeys(e for s in broken for e in s.errors))
        return RunLine(label, "error", why, seconds)
    noisy = [s for s in seeds if s.failed]
    if noisy:
        which = "" if len(seeds) == 1 else f" on {', '.join(s.name for s in noisy)}"
        count = sum(s.findings for s in noisy)
        return RunLine(label, "false-alarm", f"{count} finding(s){which}", seconds)
    return RunLine(label, "clean", "", seconds)


def _fault_line(outcome: RunOutcome, label: str, seconds: float) -> RunLine:
    fault = score_fault([outcome])
    if fault.infra_error:
        return RunLine(label, "error", outcome.infra_error or "", seconds)
    if fault.detected:
        found = ", ".join(f"{suite} {n}" for suite, n in fault.by_suite.items())
        return RunLine(label, "found", f"{fault.findings} finding(s): {found}", seconds)
    # A fuzz-only run that finds nothing is no miss while the targeted run found it.
    if outcome.planned.part == "main":
        return RunLine(label, "missed", f"verdict {fault.verdict}", seconds)
    return RunLine(label, "nothing", f"verdict {fault.verdict}", seconds)
