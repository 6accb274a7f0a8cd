"""report.html: one self-contained page (inline CSS and SVG, screenshots as data URIs).

It must open from a CI artifact or an email attachment with no network, so nothing is loaded
from a URL and there is no JavaScript. Every value is escaped on the way in (`svg.esc`).

It opens on a summary that fits one 1280x800 screen (verdict, root causes, coverage, timing);
a table of contents follows, and everything else sits in collapsed `<details>`: each root
cause with its evidence and findings, exposures, coverage, suites. Lists of user pairs are
counts that expand. Printed, the navigation is dropped and every `<details>` is shown open.
Every finding is in report.json; the page lists at most `MAX_CAUSE_ROWS` under each cause.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from harness.events import CaseFinished
from harness.models import Verdict
from reports.files import write_atomic
from reports.groups import FindingGroup, group_findings, repro_text
from reports.redact import redact_result
from reports.result import FindingRecord, RunResult, SuiteResult, depth_line
from reports.svg import SEVERITY_COLOURS, Mark, Span, esc, heatmap, line_plot, timeline
from reports.variants import variant_counts, variant_summary

MAX_EMBED_BYTES = 5_000_000  # bigger screenshots are linked, not inlined
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
SUMMARY_CAUSES = 5  # root causes listed in the summary; the rest are one click away
MAX_CAUSE_ROWS = 40  # findings listed under one cause; report.json holds them all
INLINE_PAIRS = 3  # more user pairs than this become a count with an expandable list

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:.6em 1em;color:#222}
h1{margin:0;font-size:1.5em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin:1.2em 0 .4em}
h1 small{font-size:.55em;font-weight:normal;color:#555}
table{border-collapse:collapse;margin:.4em 0;width:100%}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,pre{font:12px/1.35 ui-monospace,monospace}
pre{white-space:pre-wrap;word-break:break-all;margin:0}
.badge{display:inline-block;padding:.1em .6em;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2e7d32}.fail{background:#c62828}.error{background:#6a1b9a}
.sev{font-weight:bold}img.shot{max-width:100%;border:1px solid #ccc;margin:.3em 0}
svg text{font:11px system-ui,sans-serif}svg .axis{fill:#666}svg .title{font-weight:bold}
#summary{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:.4em 0}
#summary h2{margin:.6em 0 .2em;font-size:1.05em;border:0;padding:0}
#summary p{margin:.25em 0}.why{color:#444}
.cards{display:flex;gap:.6em;flex-wrap:wrap;margin:.5em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.25em .8em;min-width:7.5em}
.card b{display:block;font-size:1.35em}.card span{color:#555;font-size:.85em}
ol.causes{margin:.2em 0;padding-left:1.6em}ol.causes li{margin:.15em 0}
.ev{color:#555;font-size:.9em}
nav{margin:.6em 0;padding:.4em .8em;background:#f6f6f6;border-radius:6px}
nav a{margin-right:1em}
details{margin:.3em 0}details>summary{cursor:pointer}
details.box{border:1px solid #ddd;border-radius:6px;padding:.3em .7em}
details.box[open]>summary{margin-bottom:.3em}
ul.pairs{columns:4 14em;margin:.2em 0;padding-left:1.4em}
@media print{nav{display:none}body{max-width:none}
details::details-content{content-visibility:visible;display:block}
details>summary{list-style:none}a{color:inherit;text-decoration:none}}
"""


def write_html(result: RunResult, path: Path, secrets: Iterable[str] = ()) -> Path:
    """Write report.html atomically, after masking secrets."""
    path = Path(path)
    return write_atomic(path, render_html(redact_result(result, secrets), path.parent))


def render_html(result: RunResult, base_dir: Path) -> str:
    """The page. `base_dir` is where it will live: artifacts are resolved and linked from it."""
    accepted = [r.key for r in result.findings if r.accepted]
    causes = group_findings(result.findings, accepted, result.roles)
    sections = [
        ("causes", "Root causes", _causes(result, causes)),
        ("exposures", "Exposures", _exposures(result)),
        ("coverage", "Coverage", _coverage(result)),
        ("timeline", "Timeline", _timeline(result, causes)),
        ("suites", "Suites", _suites(result, base_dir)),
        ("errors", "Errors", _errors(result)),
    ]
    present = [(anchor, title, body) for anchor, title, body in sections if body]
    toc = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t, _ in present)
    body = "".join(
        f'<section id="{a}"><h2>{esc(t)}</h2>{content}</section>' for a, t, content in present
    )
    title = f"Chaperone report: {result.verdict.upper()}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>{_summary(result, causes)}"
        f'<nav id="toc" aria-label="Contents"><b>Contents:</b> {toc}</nav>{body}</body></html>\n'
    )


def _clock(epoch: float | None) -> str:
    if epoch is None:
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _badge(verdict: Verdict) -> str:
    return f'<span class="badge {esc(verdict.value)}">{esc(verdict.upper())}</span>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """`rows` cells are already HTML (escaped by the caller)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _severity(severity: object, accepted: bool = False) -> str:
    colour = SEVERITY_COLOURS.get(str(severity), "#555")
    note = " (accepted)" if accepted else ""
    return f'<span class="sev" style="color:{colour}">{esc(severity)}</span>{note}'


def _pairs(pairs: Sequence[tuple[str, str]], noun: str = "exposure") -> str:
    """A few owner -> observer pairs inline; more become a count that expands to the list."""
    items = [f"{o}\u2192{b}" for o, b in pairs]
    if not items:
        return "none"
    if len(items) <= INLINE_PAIRS:
        return esc(", ".join(items))
    listed = "".join(f"<li>{esc(i)}</li>" for i in items)
    return (
        f"<details><summary>{len(items)} {esc(noun)}s (owner\u2192observer)</summary>"
        f'<ul class="pairs">{listed}</ul></details>'
    )


def _share(result: RunResult) -> str:
    share = result.coverage
    if share is None:
        return "nothing read"
    return f"{share:.1%} of reads really checked (minimum {result.min_coverage:.0%})"


# -- the summary: one screen ------------------------------------------------------------------


def _summary(result: RunResult, causes: Sequence[FindingGroup]) -> str:
    seed = "unknown" if result.seed is None else result.seed
    where = (
        f"build <code>{esc(result.build or 'unknown')}</code> on <code>{esc(result.target)}</code>,"
        f" seed {esc(seed)}, run <code>{esc(result.run_id)}</code>"
    )
    reasons = "; ".join(result.reasons[:3]) + ("; ..." if len(result.reasons) > 3 else "")
    open_causes = [c for c in causes if not c.accepted]
    cards = [
        (str(len(open_causes)), "root cause(s)"),
        (str(len(result.findings)), "finding(s)"),
        (str(len(result.exposures)), "exposure(s)"),
        (_coverage_figure(result), "reads checked"),
        (f"{result.seconds:.0f} s", "duration"),
    ]
    card_html = "".join(
        f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for v, k in cards
    )
    return (
        f'<section id="summary" aria-label="Summary"><h1>Chaperone {_badge(result.verdict)} '
        f"<small>{where}</small></h1>"
        + (f'<p class="why">{esc(reasons)}</p>' if reasons else "")
        + f'<div class="cards">{card_html}</div>'
        + _summary_causes(causes)
        + f"<p><b>Coverage:</b> {esc(_coverage_line(result))}</p>"
        + f"<p><b>Timing:</b> {esc(_timing_line(result))}</p>"
        + "</section>"
    )


def _summary_causes(causes: Sequence[FindingGroup]) -> str:
    if not causes:
        return "<h2>Root causes</h2><p>None: no finding.</p>"
    items = "".join(
        f'<li>{_severity(c.severity, c.accepted)} <a href="#cause-{esc(c.key)}">'
        f'{esc(c.title)}</a> <span class="ev">{esc(c.evidence)}</span></li>'
        for c in causes[:SUMMARY_CAUSES]
    )
    more = len(causes) - SUMMARY_CAUSES
    tail = f'<p><a href="#causes">{more} more root cause(s)</a></p>' if more > 0 else ""
    total = sum(c.count for c in causes)
    return (
        f"<h2>Root causes: {len(causes)} behind {total} finding(s)</h2>"
        f'<ol class="causes">{items}</ol>{tail}'
    )


def _coverage_figure(result: RunResult) -> str:
    return "-" if result.coverage is None else f"{result.coverage:.1%}"


def _coverage_line(result: RunResult) -> str:
    rows = result.coverage_rows
    lost = sum(r.lost for r in rows)
    checked = sum(r.checked for r in rows)
    return f"{_share(result)}; {checked} checked, {lost} lost; {result.retries} retried"


def _timing_line(result: RunResult) -> str:
    suites = ", ".join(f"{s.name} {s.seconds:.1f} s ({s.verdict})" for s in result.suites)
    return f"started {_clock(result.started)}, {result.seconds:.1f} s in all" + (
        f": {suites}" if suites else ""
    )


# -- root causes --------------------------------------------------------------------------------


def _causes(result: RunResult, causes: Sequence[FindingGroup]) -> str:
    if not causes:
        return "<p>No finding.</p>"
    intro = (
        f"<p>{len(result.findings)} finding(s) come down to {len(causes)} root cause(s), one per "
        "leaked object: what leaked (the resource whose data reached someone, and its owners' "
        "role) and the first scenario step where any surface showed it. Where it then showed "
        "up is the evidence beneath.</p>"
    )
    return intro + "".join(_cause(c) for c in causes)


def _cause(cause: FindingGroup) -> str:
    shortest = cause.shortest
    facts = [
        ("Leaked object", f"{esc(cause.what)}; first: <code>{esc(cause.example)}</code>"),
        ("First shown", f"<code>{esc(cause.step)}</code> ({esc(_clock(cause.first.first_seen))})"),
        (
            "Findings",
            f"{cause.count} ({cause.occurrences} sighting(s)); kinds {esc(', '.join(cause.kinds))}",
        ),
        ("Suites", esc(", ".join(cause.suites))),
        ("Surfaces", _list(cause.surfaces, "surface")),
        ("Exposures", _pairs(cause.exposures)),
        ("Shortest reproduction", f"<pre>{esc(repro_text(shortest.repro) or '(none)')}</pre>"),
    ]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts)
    return (
        f'<details class="box" id="cause-{esc(cause.key)}"><summary>'
        f"{_severity(cause.severity, cause.accepted)} <b>{esc(cause.title)}</b> "
        f'<span class="ev">{esc(cause.evidence)}</span></summary>'
        f"<table>{rows}</table>{_cause_findings(cause.records)}</details>"
    )


def _list(items: Sequence[str], noun: str) -> str:
    if len(items) <= INLINE_PAIRS:
        return ", ".join(f"<code>{esc(i)}</code>" for i in items)
    listed = "".join(f"<li><code>{esc(i)}</code></li>" for i in items)
    return f"<details><summary>{len(items)} {esc(noun)}s</summary><ul>{listed}</ul></details>"


def _cause_findings(records: Sequence[FindingRecord]) -> str:
    shown = records[:MAX_CAUSE_ROWS]
    more = len(records) - len(shown)
    note = f"<p>{more} more in report.json.</p>" if more > 0 else ""
    table = _table(
        ["Severity", "Owner", "Observer", "Surface", "Step", "First seen", "Count", "Message"],
        [_finding_row(r) for r in shown],
    )
    return f"<details><summary>{len(records)} finding(s)</summary>{table}{note}</details>"


def _finding_row(record: FindingRecord) -> list[str]:
    f = record.finding
    accepted = (
        f"<br><b>accepted</b> until {esc(record.accepted_until)}: {esc(record.accepted)}"
        if record.accepted
        else ""
    )
    return [
        _severity(f.severity),
        esc(f.owner or "-"),
        esc(f.observer),
        f"<code>{esc(f.surface)}</code>",
        esc(f.step),
        esc(_clock(record.first_seen)),
        str(record.occurrences),
        esc(f.message) + accepted,
    ]


# -- exposures, coverage, timeline --------------------------------------------------------------


def _exposures(result: RunResult) -> str:
    if not result.exposures:
        return "<p>No user's data reached another user.</p>"
    owners = sorted({e.owner for e in result.exposures})
    observers = sorted({e.observer for e in result.exposures})
    counts = {(e.owner, e.observer): e.findings for e in result.exposures}
    rows = [
        [
            esc(e.owner),
            esc(e.observer),
            esc(", ".join(e.what)),
            _list(e.surfaces, "surface"),
            esc(_clock(e.first_seen)),
            esc(_clock(e.last_seen)),
            str(e.findings),
        ]
        for e in result.exposures
    ]
    return (
        f"<p>{len(result.exposures)} owner\u2192observer pair(s): {len(owners)} owner(s)' data "
        f"reached {len(observers)} observer(s) (rows: owner, columns: observer).</p>"
        + heatmap(owners, observers, counts)
        + f'<details class="box"><summary>Every exposure ({len(rows)}), for a notification'
        "</summary>"
        + _table(
            ["Owner", "Observer", "What", "Surfaces", "First seen", "Last seen", "Count"], rows
        )
        + "</details>"
    )


def _coverage(result: RunResult) -> str:
    rows = result.coverage_rows
    if not rows:
        return "<p>No read was recorded.</p>"
    roles = dict(result.roles)
    cells: dict[tuple[str, str], list[int]] = {}
    pairs: dict[str, list[str]] = {}
    for row in rows:
        observer = roles.get(row.observer, row.observer)
        owner = "own" if row.owner == row.observer else roles.get(row.owner, row.owner)
        cell = cells.setdefault((row.route, f"{observer} \u2192 {owner}"), [0, 0])
        cell[0] += row.checked
        cell[1] += row.lost
        if row.lost:
            reasons = ", ".join(f"{r} x{n}" for r, n in row.reasons)
            pairs.setdefault(row.route, []).append(
                f"{row.observer} about {row.owner}: {row.lost} lost ({reasons})"
            )
    columns = sorted({c for _, c in cells})
    routes = sorted({r for r, _ in cells})
    table_rows = []
    for route in routes:
        line = [f"<code>{esc(route)}</code>"]
        for column in columns:
            checked, lost = cells.get((route, column), [0, 0])
            text = (
                "-" if checked + lost == 0 else f"{checked}" + (f" / {lost} lost" if lost else "")
            )
            style = ' style="background:#fdd"' if lost else ""
            line.append(f"<span{style}>{esc(text)}</span>")
        lost_detail = pairs.get(route)
        if lost_detail:
            items = "".join(f"<li>{esc(p)}</li>" for p in lost_detail[:50])
            line[0] += f"<details><summary>lost reads</summary><ul>{items}</ul></details>"
        table_rows.append(line)
    unfilled = "".join(f"<li><code>{esc(u)}</code></li>" for u in result.unfilled)
    found = "".join(
        f"<li><code>{esc(route)}</code> ({esc(source)})</li>"
        for route, source in result.found.items()
    )
    sources = ", ".join(f"{esc(source)} {n}" for source, n in result.sources.items())
    shapes = variant_summary(variant_counts(result.coverage_rows))
    note = (
        f"<p>Checked: the reader had a live session and the target answered (including a "
        f"denial). Lost: a 401 that a re-login did not cure, a 5xx, or no answer. "
        f"{_share(result)}; {result.retries} transient fault(s) retried; "
        f"{result.relogins} session(s) logged in again.</p>"
    )
    return (
        note + f'<details class="box"><summary>Reads by route and who read whose data '
        f"({len(routes)} route(s))</summary>"
        + _table(["Read", *(esc(c) for c in columns)], table_rows)
        + "</details>"
        + (
            f"<p>Discovered routes no observed value could fill:</p><ul>{unfilled}</ul>"
            if unfilled
            else ""
        )
        + (f"<p>Reads by source: {sources}.</p>" if sources else "")
        + (f"<p>Request-shape variants: {esc(shapes)}.</p>" if shapes else "")
        + (
            f"<p>List depth (deepest walk per list or export): "
            f"{esc(depth_line(result.depth.values()))}.</p>"
            if result.depth
            else ""
        )
        + (
            "<p>Routes found outside the profile and the OpenAPI document (add them to the "
            f"profile):</p><ul>{found}</ul>"
            if found
            else ""
        )
    )


def _timeline(result: RunResult, causes: Sequence[FindingGroup]) -> str:
    lanes = [s.name for s in result.suites]
    if not lanes:
        return ""
    spans = [
        Span(s.name, s.started, s.finished if s.finished is not None else s.started + s.seconds)
        for s in result.suites
        if s.started is not None
    ]
    # One mark per cause and suite, from its first to its last sighting there: a flood of
    # findings is one bug, and hundreds of dots would hide when each bug showed.
    marks = [m for c in causes for m in _marks(c, set(lanes))]
    return timeline(lanes, spans, marks)


def _marks(cause: FindingGroup, lanes: set[str]) -> list[Mark]:
    by_suite: dict[str, list[FindingRecord]] = {}
    for record in cause.records:
        if record.finding.suite in lanes:
            by_suite.setdefault(record.finding.suite, []).append(record)
    colour = SEVERITY_COLOURS.get(str(cause.severity), "#555")
    return [
        Mark(
            suite,
            min(r.first_seen for r in records),
            max(r.last_seen for r in records),
            colour,
            f"{cause.severity} {cause.title}: {len(records)} finding(s) in {suite}",
            len(records),
        )
        for suite, records in by_suite.items()
    ]


# -- suites, artifacts, errors ------------------------------------------------------------------


def _suites(result: RunResult, base_dir: Path) -> str:
    names = list(dict.fromkeys([*result.suites_requested, *(s.name for s in result.suites)]))
    rows = [_summary_row(result, name) for name in names]
    table = _table(["Suite", "Verdict", "Seconds", "Cases", "Findings", "Message"], rows)
    details = "".join(_suite_section(s, result.cases_for(s.name), base_dir) for s in result.suites)
    return table + details


def _summary_row(result: RunResult, name: str) -> list[str]:
    suite = result.suite(name)
    verdict = suite.verdict if suite else Verdict.ERROR
    cases = result.cases_for(name)
    failed = sum(c.verdict is not Verdict.PASS for c in cases)
    return [
        esc(name),
        _badge(verdict),
        f"{suite.seconds:.1f}" if suite else "-",
        f"{len(cases)} ({failed} not passed)",
        str(len(result.findings_for(name))),
        esc(suite.message if suite else "never started"),
    ]


def _suite_section(suite: SuiteResult, cases: Sequence[CaseFinished], base_dir: Path) -> str:
    parts = []
    if suite.message:
        parts.append(f"<p>{esc(suite.message)}</p>")
    if cases:
        rows = [[esc(c.name), _badge(c.verdict), f"{c.seconds:.2f}", esc(c.message)] for c in cases]
        parts.append(_table(["Case", "Verdict", "Seconds", "Message"], rows))
    scalars = {k: v for k, v in suite.metrics.items() if k != "series"}
    if scalars:
        parts.append(_table(["Metric", "Value"], [[esc(k), _value(v)] for k, v in scalars.items()]))
    parts += _series_plots(suite.metrics.get("series"))
    if suite.artifacts:
        parts.append(
            "<h3>Artifacts</h3>" + "".join(_artifact(a, base_dir) for a in suite.artifacts)
        )
    return (
        f'<details class="box" id="suite-{esc(suite.name)}"><summary>Suite '
        f"<b>{esc(suite.name)}</b> {_badge(suite.verdict)} {suite.seconds:.1f} s</summary>"
        + "".join(parts)
        + "</details>"
    )


def _value(value: object) -> str:
    if isinstance(value, dict | list | tuple):
        return f"<pre>{esc(json.dumps(value, indent=1, default=str))}</pre>"
    if isinstance(value, float):
        return esc(f"{value:.3f}")
    return esc(value)


def _series_plots(series: object) -> list[str]:
    """Load-suite time series: latency keys (`*_ms`) share one plot, every other key has its own."""
    if not isinstance(series, list):
        return []
    lines: dict[str, list[tuple[float, float]]] = {}
    for point in series:
        if isinstance(point, Mapping) and _number(point.get("t")):
            for key, value in point.items():
                if key != "t" and _number(value):
                    lines.setdefault(str(key), []).append((float(point["t"]), float(value)))
    latency = {k: v for k, v in lines.items() if k.endswith("_ms")}
    plots = [line_plot("Latency", latency, "ms")] if latency else []
    plots += [line_plot(k, {k: v}, "") for k, v in lines.items() if k not in latency]
    return plots


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _artifact(name: str, base_dir: Path) -> str:
    path = Path(name) if os.path.isabs(name) else base_dir / name
    link = esc(os.path.relpath(path, base_dir))
    if path.suffix.lower() == ".png" and path.is_file() and path.stat().st_size <= MAX_EMBED_BYTES:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return (
            f'<figure><img class="shot" alt="{esc(path.name)}" src="data:image/png;base64,{data}">'
            f"<figcaption><code>{link}</code></figcaption></figure>"
        )
    missing = "" if path.exists() else " (missing)"
    return f'<p><a href="{link}">{esc(path.name)}</a>{esc(missing)}</p>'


def _errors(result: RunResult) -> str:
    rows = [
        [esc(e.suite or "-"), esc(_clock(e.time)), f"<pre>{esc(e.message)}</pre>"]
        for e in result.errors
    ]
    if result.interrupted:
        rows.append(["-", "-", "the run was interrupted"])
    if not rows:
        return ""
    return _table(["Suite", "Time", "Message"], rows)
