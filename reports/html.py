"""report.html: one self-contained page (inline CSS and SVG, screenshots as data URIs).

It must open from a CI artifact or an email attachment with no network, so nothing is loaded
from a URL and there is no JavaScript. Every value is escaped on the way in (`svg.esc`).
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
from reports.groups import group_findings, repro_text
from reports.redact import redact_result
from reports.result import FindingRecord, RunResult, SuiteResult
from reports.svg import SEVERITY_COLOURS, Mark, Span, esc, heatmap, line_plot, timeline

MAX_EMBED_BYTES = 5_000_000  # bigger screenshots are linked, not inlined
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em;color:#222}
h1{margin:.2em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;width:100%}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,pre{font:12px/1.35 ui-monospace,monospace}
pre{white-space:pre-wrap;word-break:break-all;margin:0}
.badge{display:inline-block;padding:.15em .6em;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2e7d32}.fail{background:#c62828}.error{background:#6a1b9a}
.meta td:first-child{width:9em;font-weight:bold}
svg text{font:11px system-ui,sans-serif}svg .axis{fill:#666}svg .title{font-weight:bold}
.sev{font-weight:bold}img.shot{max-width:100%;border:1px solid #ccc;margin:.3em 0}
"""


def write_html(result: RunResult, path: Path, secrets: Iterable[str] = ()) -> Path:
    """Write report.html atomically, after masking secrets."""
    path = Path(path)
    return write_atomic(path, render_html(redact_result(result, secrets), path.parent))


def render_html(result: RunResult, base_dir: Path) -> str:
    """The page. `base_dir` is where it will live: artifacts are resolved and linked from it."""
    sections = [
        _header(result),
        _summary(result),
        _groups(result),
        _exposures(result),
        _coverage(result),
        _timeline(result),
        *(_suite_section(s, result.cases_for(s.name), base_dir) for s in result.suites),
        _findings(result.findings),
        _errors(result),
    ]
    title = f"Chaperone report: {result.verdict.upper()}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{CSS}</style></head><body>{''.join(sections)}</body></html>\n"
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


def _header(result: RunResult) -> str:
    meta = [
        ("Target", result.target),
        ("Build", result.build or "unknown"),
        ("Seed", "unknown" if result.seed is None else result.seed),
        ("Run id", result.run_id),
        ("Profile", f"{result.profile or '-'} {result.profile_digest[:12]}".strip()),
        ("Coverage", _share(result)),
        ("Started", _clock(result.started)),
        ("Duration", f"{result.seconds:.1f}s"),
    ]
    rows = "".join(f"<tr><td>{esc(k)}</td><td><code>{esc(v)}</code></td></tr>" for k, v in meta)
    reasons = "".join(f"<li>{esc(r)}</li>" for r in result.reasons)
    return (
        f"<header><h1>Chaperone {_badge(result.verdict)}</h1>"
        f'<table class="meta">{rows}</table>'
        + (f"<p>Why:</p><ul>{reasons}</ul>" if reasons else "")
        + "</header>"
    )


def _share(result: RunResult) -> str:
    share = result.coverage
    if share is None:
        return "nothing read"
    return f"{share:.1%} of reads really checked (minimum {result.min_coverage:.0%})"


def _groups(result: RunResult) -> str:
    accepted = [r.key for r in result.findings if r.accepted]
    groups = group_findings(result.findings, accepted)
    if not groups:
        return ""
    rows = [
        [
            f"<code>{esc(g.key)}</code>",
            f'<span class="sev" style="color:{SEVERITY_COLOURS.get(str(g.severity), "#555")}">'
            f"{esc(g.severity)}</span>" + (" (accepted)" if g.accepted else ""),
            esc(g.title),
            str(g.count),
            esc(", ".join(f"{o}\u2192{b}" for o, b in g.exposures[:8]))
            + (f" (+{len(g.exposures) - 8})" if len(g.exposures) > 8 else ""),
            esc(", ".join(g.suites)),
            f"<pre>{esc(repro_text(g.shortest.repro))}</pre>",
        ]
        for g in groups
    ]
    intro = (
        f"<p>{len(result.findings)} finding(s) come down to {len(groups)} cause(s): same kind, "
        "route, surface, data and the scenario step where they first appeared.</p>"
    )
    return (
        "<h2>Causes</h2>"
        + intro
        + _table(
            ["Group", "Severity", "Cause", "Count", "Exposures", "Suites", "Shortest reproduction"],
            rows,
        )
    )


def _coverage(result: RunResult) -> str:
    rows = result.coverage_rows
    if not rows:
        return "<h2>Coverage</h2><p>No read was recorded.</p>"
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
    note = (
        f"<p>Checked: the reader had a live session and the target answered (including a "
        f"denial). Lost: a 401 that a re-login did not cure, a 5xx, or no answer. "
        f"{_share(result)}; {result.retries} transient fault(s) retried; "
        f"{result.relogins} session(s) logged in again.</p>"
    )
    return (
        "<h2>Coverage</h2>"
        + note
        + _table(["Read", *(esc(c) for c in columns)], table_rows)
        + (
            f"<p>Discovered routes no observed value could fill:</p><ul>{unfilled}</ul>"
            if unfilled
            else ""
        )
    )


def _summary(result: RunResult) -> str:
    names = list(dict.fromkeys([*result.suites_requested, *(s.name for s in result.suites)]))
    rows = [_summary_row(result, name) for name in names]
    return "<h2>Suites</h2>" + _table(
        ["Suite", "Verdict", "Seconds", "Cases", "Findings", "Message"], rows
    )


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


def _exposures(result: RunResult) -> str:
    if not result.exposures:
        return "<h2>Exposures</h2><p>No patient's data reached another user.</p>"
    owners = sorted({e.owner for e in result.exposures})
    observers = sorted({e.observer for e in result.exposures})
    counts = {(e.owner, e.observer): e.findings for e in result.exposures}
    rows = [
        [
            esc(e.owner),
            esc(e.observer),
            esc(", ".join(e.what)),
            "<br>".join(f"<code>{esc(s)}</code>" for s in e.surfaces),
            esc(_clock(e.first_seen)),
            esc(_clock(e.last_seen)),
            str(e.findings),
        ]
        for e in result.exposures
    ]
    return (
        "<h2>Exposures</h2><p>Whose data reached whom (rows: owner, columns: observer).</p>"
        + heatmap(owners, observers, counts)
        + _table(
            ["Owner", "Observer", "What", "Surfaces", "First seen", "Last seen", "Count"], rows
        )
    )


def _timeline(result: RunResult) -> str:
    lanes = [s.name for s in result.suites]
    spans = [
        Span(s.name, s.started, s.finished if s.finished is not None else s.started + s.seconds)
        for s in result.suites
        if s.started is not None
    ]
    marks = [_mark(r) for r in result.findings if r.finding.suite in lanes]
    if not lanes:
        return ""
    return "<h2>Timeline</h2>" + timeline(lanes, spans, marks)


def _mark(record: FindingRecord) -> Mark:
    f = record.finding
    title = f"{f.severity} {f.kind}: {f.message} (x{record.occurrences})"
    colour = SEVERITY_COLOURS.get(str(f.severity), "#555")
    return Mark(f.suite, record.first_seen, record.last_seen, colour, title, record.occurrences)


def _suite_section(suite: SuiteResult, cases: Sequence[CaseFinished], base_dir: Path) -> str:
    parts = [f"<h2>Suite {esc(suite.name)} {_badge(suite.verdict)}</h2>"]
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
    return "".join(parts)


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


def _findings(records: Sequence[FindingRecord]) -> str:
    if not records:
        return "<h2>Findings</h2><p>None.</p>"
    ordered = sorted(
        records, key=lambda r: (SEVERITY_ORDER.get(str(r.finding.severity), 9), r.first_seen)
    )
    rows = [_finding_row(r) for r in ordered]
    return "<h2>Findings</h2>" + _table(
        [
            "Severity",
            "Kind",
            "Owner",
            "Observer",
            "Surface",
            "Step",
            "Time",
            "Count",
            "Message / evidence",
        ],
        rows,
    )


def _finding_row(record: FindingRecord) -> list[str]:
    f = record.finding
    colour = SEVERITY_COLOURS.get(str(f.severity), "#555")
    evidence = f"<pre>{esc(f.evidence)}</pre>" if f.evidence else ""
    repro = " \u2192 ".join(
        f"{s.actor}:{s.action}{'(' + s.arg + ')' if s.arg else ''}" for s in f.repro
    )
    return [
        f'<span class="sev" style="color:{colour}">{esc(f.severity)}</span>',
        esc(f.kind),
        esc(f.owner or "-"),
        esc(f.observer),
        f"<code>{esc(f.surface)}</code>",
        esc(f.step),
        esc(_clock(record.first_seen)),
        str(record.occurrences),
        esc(f.message)
        + evidence
        + (f"<br>repro: <code>{esc(repro)}</code>" if repro else "")
        + (
            f"<br><b>accepted</b> until {esc(record.accepted_until)}: {esc(record.accepted)}"
            if record.accepted
            else ""
        ),
    ]


def _errors(result: RunResult) -> str:
    rows = [
        [esc(e.suite or "-"), esc(_clock(e.time)), f"<pre>{esc(e.message)}</pre>"]
        for e in result.errors
    ]
    if result.interrupted:
        rows.append(["-", "-", "the run was interrupted"])
    if not rows:
        return ""
    return "<h2>Errors</h2>" + _table(["Suite", "Time", "Message"], rows)
