"""junit.xml: one <testsuite> per suite, one <testcase> per scenario/check, and one failing
<testcase> per root cause (the leaked object, see reports.groups) in a `findings` suite.

A scenario that found leaks points at its groups instead of repeating them, so one bug is one
red line in CI, not a hundred. A scenario that did not apply to the target is <skipped>.
CI systems only look at testcases, so anything that makes the run fail or error without a
failing case (an engine error, a suite that never finished, a suite whose own verdict is worse
than its cases', lost coverage, an interruption) gets a synthetic testcase too: the CI page is
never greener than the verdict.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.events import CaseFinished
from harness.models import Verdict
from reports.files import write_atomic
from reports.groups import FindingGroup, group_findings, repro_text
from reports.redact import redact_result
from reports.result import RunResult

RUN_SUITE = "chaperone"  # holds run-level problems that belong to no suite
GROUP_SUITE = "findings"  # one failing case per group of findings


@dataclass
class _Case:
    name: str
    seconds: float
    verdict: Verdict
    message: str = ""
    detail: str = ""
    skipped: str = ""


@dataclass
class _Suite:
    name: str
    seconds: float
    cases: list[_Case] = field(default_factory=list)


def write_junit(result: RunResult, path: Path, secrets: Iterable[str] = ()) -> Path:
    """Write junit.xml atomically, after masking secrets."""
    root = build_junit(redact_result(result, secrets))
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode", xml_declaration=True)
    return write_atomic(Path(path), xml + "\n")


def build_junit(result: RunResult) -> ET.Element:
    suites = _collect(result)
    root = ET.Element("testsuites", name="chaperone")
    for suite in suites:
        root.append(_suite_element(suite))
    _set_counts(root, [c for s in suites for c in s.cases], sum(s.seconds for s in suites))
    return root


def _collect(result: RunResult) -> list[_Suite]:
    names = list(dict.fromkeys([*result.suites_requested, *(s.name for s in result.suites)]))
    accepted = [r.key for r in result.findings if r.accepted]
    groups = group_findings(result.findings, accepted, result.roles)
    group_of = {r.key: g for g in groups for r in g.records}
    suites = [_suite_cases(result, name, group_of) for name in names]
    if groups:
        suites.append(_Suite(GROUP_SUITE, 0.0, [_group_case(g) for g in groups]))
    run_level = _run_level_cases(result, set(names))
    if run_level:
        suites.append(_Suite(RUN_SUITE, 0.0, run_level))
    return suites


def _group_case(group: FindingGroup) -> _Case:
    shortest = group.shortest
    pairs = ", ".join(f"{o} -> {b}" for o, b in group.exposures[:10])
    more = f" (+{len(group.exposures) - 10} more)" if len(group.exposures) > 10 else ""
    detail = "\n".join(
        [
            shortest.message,
            f"leaked object: {group.what}, first {group.example} at {group.step}",
            f"evidence: {group.evidence} ({group.occurrences} sighting(s))",
            f"surfaces: {', '.join(group.surfaces)}",
            f"exposures: {pairs}{more}" if pairs else "exposures: none",
            "shortest reproduction:",
            repro_text(shortest.repro) or "(none recorded)",
        ]
    )
    name = f"[{group.key}] {group.severity} {group.title}"
    if group.accepted:
        reason = group.records[0].accepted
        return _Case(name, 0.0, Verdict.PASS, skipped=f"accepted: {reason}")
    message = f"{group.title}: {group.evidence}"
    return _Case(name, 0.0, Verdict.FAIL, message, detail)


def _suite_cases(result: RunResult, name: str, group_of: dict[str, FindingGroup]) -> _Suite:
    messages = {r.key: r.finding.message for r in result.findings}
    cases = [_scenario_case(c, group_of, messages) for c in result.cases_for(name)]
    cases += [
        _Case(f"{name}: engine error", 0.0, Verdict.ERROR, e.message, e.message)
        for e in result.errors
        if e.suite == name
    ]
    suite = result.suite(name)
    seconds = suite.seconds if suite else 0.0
    worst = Verdict.merge(*(c.verdict for c in cases)) if cases else Verdict.PASS
    verdict = suite.verdict if suite and suite.finished is not None else Verdict.ERROR
    if Verdict.merge(verdict, worst) != worst:
        cases.append(_suite_verdict_case(result, name, verdict))
    return _Suite(name, seconds, cases)


def _scenario_case(
    case: CaseFinished, group_of: dict[str, FindingGroup], messages: dict[str, str]
) -> _Case:
    if case.skipped:
        return _Case(case.name, case.seconds, Verdict.PASS, skipped=case.skipped)
    keys = [k for k in case.finding_keys if k in group_of]
    groups = list(dict.fromkeys(group_of[k].key for k in keys))
    if case.verdict is Verdict.FAIL and keys and all(group_of[k].accepted for k in keys):
        return _Case(case.name, case.seconds, Verdict.PASS, case.message)
    if not groups:
        return _Case(case.name, case.seconds, case.verdict, case.message, case.message)
    # One line per cause, not one per repeat: the groups' own cases hold the details.
    firsts = dict.fromkeys(messages[group_of[k].records[0].key] for k in keys)
    detail = "\n".join([f"{case.message}; root cause(s) {', '.join(groups)}", *firsts])
    return _Case(case.name, case.seconds, case.verdict, case.message, detail)


def _suite_verdict_case(result: RunResult, name: str, verdict: Verdict) -> _Case:
    suite = result.suite(name)
    message = suite.message if suite and suite.finished is not None else "suite never finished"
    findings = "\n".join(r.finding.message for r in result.findings_for(name))
    return _Case(f"{name}: suite verdict", 0.0, verdict, message, findings or message)


def _run_level_cases(result: RunResult, suites: set[str]) -> list[_Case]:
    cases = [
        _Case("engine error", 0.0, Verdict.ERROR, e.message, e.message)
        for e in result.errors
        if e.suite not in suites
    ]
    if result.interrupted:
        cases.append(_Case("interrupted", 0.0, Verdict.ERROR, "the run was interrupted"))
    if not result.run_finished:
        cases.append(_Case("run finished", 0.0, Verdict.ERROR, "the run never finished"))
    share = result.coverage
    if share is not None:
        low = share < result.min_coverage
        message = (
            f"{share:.1%} of reads really checked (minimum {result.min_coverage:.0%}); "
            f"{sum(r.lost for r in result.coverage_rows)} lost"
        )
        cases.append(_Case("coverage", 0.0, Verdict.ERROR if low else Verdict.PASS, message))
    return cases


def _suite_element(suite: _Suite) -> ET.Element:
    element = ET.Element("testsuite", name=suite.name)
    for case in suite.cases:
        element.append(_case_element(suite.name, case))
    _set_counts(element, suite.cases, suite.seconds)
    return element


def _case_element(suite: str, case: _Case) -> ET.Element:
    element = ET.Element("testcase", classname=suite, name=case.name, time=f"{case.seconds:.3f}")
    if case.skipped:
        ET.SubElement(element, "skipped", message=case.skipped)
    elif case.verdict is not Verdict.PASS:
        tag = "failure" if case.verdict is Verdict.FAIL else "error"
        child = ET.SubElement(element, tag, message=case.message or tag, type=case.verdict)
        child.text = case.detail or case.message
    return element


def _set_counts(element: ET.Element, cases: list[_Case], seconds: float) -> None:
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(c.verdict is Verdict.FAIL for c in cases)))
    element.set("errors", str(sum(c.verdict is Verdict.ERROR for c in cases)))
    element.set("skipped", str(sum(bool(c.skipped) for c in cases)))
    element.set("time", f"{seconds:.3f}")
