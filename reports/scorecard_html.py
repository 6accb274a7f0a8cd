"""selftest.html: the detection scorecard as one self-contained page (no scripts, no external
files, every value escaped). It renders selftest.json's data: the selftest package decides the
scores and the exit code, this module only draws them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reports.svg import esc, heat_colour

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ddd;padding:4px 8px}
th{background:#f3f3f3;text-align:left}td.n{text-align:center;min-width:4em}
.badge{display:inline-block;padding:.15em .6em;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2e7d32}.fail{background:#c62828}.error{background:#6a1b9a}.muted{color:#999}
"""

_BADGES = {0: "pass", 1: "fail"}


def render_html(data: Mapping[str, Any]) -> str:
    """`data` is the scorecard as written to selftest.json."""
    status = _BADGES.get(int(data["exit_code"]), "error")
    faults: Mapping[str, Mapping[str, Any]] = data["faults"]
    seeds: list[Mapping[str, Any]] = data["clean"]["seeds"]
    parts = [
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><style>{CSS}</style>',
        "<title>Chaperone selftest</title></head><body><h1>Chaperone selftest ",
        f'<span class="badge {status}">{status.upper()}</span></h1>',
        f"<p>{'Quick mode' if data['quick'] else 'Full run'}: {len(faults)} planted "
        f"fault(s), {len(seeds)} clean run(s) over {_seed_count(data)} seed(s); "
        f"{data.get('runs', '?')} runs in {float(data.get('seconds', 0.0)):.0f} s with "
        f"{data.get('jobs', 1)} at a time.</p>",
        "<h2>Planted faults \u00d7 suites</h2>",
        "<p>Each cell: findings that suite raised against the clinic with that fault planted; "
        "\u2013 means the suite did not run. The fuzz column comes from a separate run of the "
        "fuzz suite alone and counts the leaks its own generated requests reached.</p>",
        _matrix(faults, data["suites"]),
        "<h2>Clean clinic</h2>",
        _clean_table(seeds),
        _problems(data["infrastructure_errors"], faults),
        "<h2>Machine</h2>",
        _rows(data["machine"].items()),
        "</body></html>",
    ]
    return "".join(parts)


def _matrix(faults: Mapping[str, Mapping[str, Any]], columns: list[str]) -> str:
    peak = max((_count(f, c) for f in faults.values() for c in columns), default=0)
    names = ["fault", *columns, "detected", "root causes", "scenarios", "seconds"]
    head = "".join(f"<th>{esc(c)}</th>" for c in names)
    body = []
    for name, fault in faults.items():
        cells = [_matrix_cell(fault, column, peak) for column in columns]
        missed = "\u2717 " + esc(fault["infrastructure_error"] or "missed")
        mark = "\u2713" if fault["detected"] else missed
        body.append(
            f"<tr><th>{esc(name)}</th>{''.join(cells)}"
            f'<td class="n">{mark}</td><td class="n">{_causes(fault)}</td>'
            f"<td>{esc(_scenarios(fault))}</td>"
            f'<td class="n">{fault["seconds"]:.0f}</td></tr>'
        )
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _causes(fault: Mapping[str, Any]) -> str:
    """One planted bug should read as one line, two at most: more is flagged."""
    if not fault["detected"]:
        return "\u2013"
    count = int(fault.get("root_causes", 0))
    return f'<span class="fail badge">{count}</span>' if count > 2 else str(count)


def _scenarios(fault: Mapping[str, Any]) -> str:
    names = fault.get("scenarios", [])
    if not any(s in fault["suites_run"] for s in ("switch", "access")):
        return ""
    return ", ".join(names) if names else "every scenario"


def _seed_count(data: Mapping[str, Any]) -> int:
    clean = data["clean"]
    return int(clean.get("seed_count", len({c["seed"] for c in clean["seeds"]})))


def _matrix_cell(fault: Mapping[str, Any], suite: str, peak: int) -> str:
    if suite not in fault["suites_run"]:
        return '<td class="n muted">\u2013</td>'
    count = _count(fault, suite)
    return f'<td class="n" style="background:{heat_colour(count, peak)}">{count}</td>'


def _count(fault: Mapping[str, Any], suite: str) -> int:
    """The fuzz column counts the leaks the fuzz suite's own requests reached, not what its
    warm-up scenario saw (that is the switch suite's work)."""
    details = fault.get("fuzz") if suite == "fuzz" else None
    if details:
        return int(details.get("from_fuzz_traffic", 0))
    return int(fault["by_suite"].get(suite, 0))


def _clean_table(seeds: list[Mapping[str, Any]]) -> str:
    head = "<tr><th>run</th><th>suites</th><th>findings</th><th>result</th><th>seconds</th></tr>"
    rows = [
        f"<tr><td>{esc(c.get('name', c['seed']))}</td><td>{esc(', '.join(c['suites_run']))}</td>"
        f'<td class="n">{c["findings"]}</td><td>{esc(_clean_status(c))}</td>'
        f'<td class="n">{c["seconds"]:.0f}</td></tr>'
        for c in seeds
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def _clean_status(score: Mapping[str, Any]) -> str:
    if score["infrastructure_error"]:
        return f"error: {score['infrastructure_error']}"
    if score["errored"]:
        return "error: " + "; ".join(score["errors"])
    return "fail" if score["failed"] else "pass"


def _problems(infra: list[str], faults: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [f"infrastructure: {e}" for e in infra]
    lines += [f"{name}: {e}" for name, f in faults.items() for e in f["errors"]]
    if not lines:
        return ""
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return f"<h2>Errors</h2><ul>{items}</ul>"


def _rows(items: Iterable[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items)
    return f"<table>{body}</table>"
