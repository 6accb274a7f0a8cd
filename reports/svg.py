"""Small inline-SVG charts for the HTML report: no JavaScript, no external files.

Every label passes through `esc`; callers hand in raw strings.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
SEVERITY_COLOURS = {
    "critical": "#b2182b",
    "high": "#ef8a62",
    "medium": "#f4c542",
    "low": "#67a9cf",
}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _svg(width: int, height: int, body: list[str], label: str, css: str) -> str:
    return (
        f'<svg class="{css}" role="img" '
        f'aria-label="{esc(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: object, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{esc(text)}</text>'


def heat_colour(count: int, top: int) -> str:
    """White for nothing, deepening red with the count (log-free: counts are small)."""
    if count <= 0 or top <= 0:
        return "#f7f7f7"
    share = 0.25 + 0.75 * count / top
    green_blue = int(235 * (1 - share))
    return f"rgb(220,{green_blue},{green_blue})"


def heatmap(rows: Sequence[str], cols: Sequence[str], counts: Mapping[tuple[str, str], int]) -> str:
    """Owner (row) x observer (column) matrix; a cell's number is how often data crossed."""
    longest = max((len(c) for c in cols), default=0)
    cell, left, top = 44, 130, 30 + min(longest, 24) * 5
    width, height = left + cell * len(cols) + 10, top + cell * len(rows) + 10
    peak = max(counts.values(), default=0)
    body = [_text(left - 8, top - 8, "owner \u2193 / observer \u2192", "end", 'class="axis"')]
    for j, col in enumerate(cols):
        x = left + j * cell + cell / 2
        body.append(_text(x, top - 8, col, "start", f'transform="rotate(-45 {x:.1f} {top - 8})"'))
    for i, row in enumerate(rows):
        y = top + i * cell
        body.append(_text(left - 8, y + cell / 2 + 4, row, "end"))
        body += [
            _heat_cell(left + j * cell, y, cell, row, col, counts, peak)
            for j, col in enumerate(cols)
        ]
    return _svg(width, height, body, "exposure matrix: owner by observer", "heatmap")


def _heat_cell(
    x: int, y: int, size: int, row: str, col: str, counts: Mapping[tuple[str, str], int], peak: int
) -> str:
    count = counts.get((row, col), 0)
    title = f"{row}'s data seen by {col}: {count} time(s)"
    label = _text(x + size / 2, y + size / 2 + 4, count, "middle") if count else ""
    return (
        f'<g><title>{esc(title)}</title><rect x="{x}" y="{y}" width="{size}" height="{size}" '
        f'fill="{heat_colour(count, peak)}" stroke="#ccc"/>{label}</g>'
    )


@dataclass(frozen=True, slots=True)
class Span:
    lane: str
    start: float
    end: float
    colour: str = "#dde6f0"


@dataclass(frozen=True, slots=True)
class Mark:
    lane: str
    start: float
    end: float
    colour: str
    title: str
    size: int = 1


def timeline(lanes: Sequence[str], spans: Sequence[Span], marks: Sequence[Mark]) -> str:
    """One lane per suite; bars show when it ran, dots when findings appeared (x: seconds)."""
    left, lane_h, width = 110, 34, 760
    height = 40 + lane_h * max(1, len(lanes))
    times = [t for s in spans for t in (s.start, s.end)] + [
        t for m in marks for t in (m.start, m.end)
    ]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    scale = (width - left - 20) / max(t1 - t0, 1e-9)

    def x(t: float) -> float:
        return left + (t - t0) * scale

    body = [_axis_ticks(t0, t1, x, height - 14)]
    row = {name: 12 + i * lane_h for i, name in enumerate(lanes)}
    body += [_text(left - 8, y + lane_h / 2 + 4, name, "end") for name, y in row.items()]
    for s in spans:
        w = max(x(s.end) - x(s.start), 2)
        body.append(
            f'<rect x="{x(s.start):.1f}" y="{row[s.lane] + 6}" width="{w:.1f}" '
            f'height="{lane_h - 12}" fill="{s.colour}" rx="3"/>'
        )
    body += [_timeline_mark(m, x, row[m.lane] + lane_h / 2) for m in marks]
    return _svg(width, height, body, "timeline of findings per suite", "timeline")


def _timeline_mark(mark: Mark, x: Callable[[float], float], y: float) -> str:
    x0, x1 = x(mark.start), x(mark.end)
    radius = min(4 + mark.size, 10)
    line = (
        f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="{mark.colour}" '
        'stroke-width="2"/>'
        if x1 > x0
        else ""
    )
    return (
        f'<g><title>{esc(mark.title)}</title>{line}<circle cx="{x0:.1f}" cy="{y:.1f}" '
        f'r="{radius}" fill="{mark.colour}" fill-opacity="0.8"/></g>'
    )


def _axis_ticks(t0: float, t1: float, x: Callable[[float], float], y: float, n: int = 5) -> str:
    ticks = [t0 + (t1 - t0) * i / n for i in range(n + 1)]
    return "".join(_text(x(t), y, f"{t - t0:.1f}s", "middle", 'class="axis"') for t in ticks)


def line_plot(title: str, series: Mapping[str, Sequence[tuple[float, float]]], unit: str) -> str:
    """Lines sharing one x axis (seconds into the run) and one y axis (`unit`)."""
    width, height, left, bottom, top = 520, 240, 56, 30, 28
    points = [p for line in series.values() for p in line]
    if not points:
        return ""
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_hi = max(max(p[1] for p in points), 1e-9)
    sx = (width - left - 12) / max(x_hi - x_lo, 1e-9)
    sy = (height - top - bottom) / y_hi

    def xy(p: tuple[float, float]) -> str:
        return f"{left + (p[0] - x_lo) * sx:.1f},{height - bottom - p[1] * sy:.1f}"

    body = [
        _text(left, 16, title, "start", 'class="title"'),
        _plot_frame(width, height, left, bottom, top),
    ]
    body += [
        _text(left - 4, height - bottom - v * sy + 4, _fmt(v, y_hi), "end", 'class="axis"')
        for v in (0, y_hi / 2, y_hi)
    ]
    body += [
        _text(left, height - 8, f"{x_lo:.0f}s", "start", 'class="axis"'),
        _text(width - 12, height - 8, f"{x_hi:.0f}s", "end", 'class="axis"'),
    ]
    for i, (name, line) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        body.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(xy(p) for p in line)}"><title>{esc(name)}</title></polyline>'
        )
        legend = f"{name} ({unit})" if unit else name
        body.append(_text(width - 12 - 110 * i, 16, legend, "end", f'fill="{colour}"'))
    return _svg(width, height, body, title, "plot")


def _plot_frame(width: int, height: int, left: int, bottom: int, top: int) -> str:
    return (
        f'<rect x="{left}" y="{top}" width="{width - left - 12}" height="{height - top - bottom}" '
        'fill="none" stroke="#bbb"/>'
    )


def _fmt(value: float, scale: float) -> str:
    return f"{value:.0f}" if scale >= 10 else f"{value:.2f}"
