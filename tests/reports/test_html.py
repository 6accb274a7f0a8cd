from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

from harness.events import FindingRaised
from reports.html import write_html
from reports.result import RunCollector
from tests.reports.streams import T0, end, failing_run, finding, start, suite_ok

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SERIES = [
    {"t": 0, "rps": 10.0, "p95_ms": 80.0, "p50_ms": 20},
    {"t": 5, "rps": 42.5, "p95_ms": 120.0, "p50_ms": 30},
]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def render(tmp_path: Path) -> tuple[str, Tags]:
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "p2.png").write_bytes(PNG)
    hostile = finding(message="<script>alert('x')</script> leaked", observer="p2<b>")
    events = [
        start("switch", "access", "load"),
        *failing_run()[1:-1],
        FindingRaised("load", hostile),
        *suite_ok(
            "load",
            metrics={"series": SERIES, "rps": 42.5, "note": "<img src=x onerror=alert(1)>"},
            artifacts=("shots/p2.png", "trace.zip"),
        ),
        end(),
    ]
    path = write_html(RunCollector().consume(events), tmp_path / "report.html")
    text = path.read_text()
    tags = Tags()
    tags.feed(text)
    return text, tags


def test_self_contained(tmp_path: Path) -> None:
    text, tags = render(tmp_path)
    for _tag, attrs in tags.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"(?i)\s*(https?:)?//", value), value
    assert not any(tag in {"script", "link", "iframe"} for tag, _ in tags.tags)
    assert "http://" not in text.replace("http://127.0.0.1:8000", "")
    assert "https://" not in text


def test_injected_markup_is_escaped(tmp_path: Path) -> None:
    text, tags = render(tmp_path)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; leaked" in text
    assert "p2&lt;b&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert not any(tag == "img" and "onerror" in attrs for tag, attrs in tags.tags)


def test_has_verdict_matrix_timeline_and_plots(tmp_path: Path) -> None:
    text, tags = render(tmp_path)
    assert 'class="badge fail"' in text and "b42" in text and "seed 7" in text
    labels = [attrs.get("aria-label") for tag, attrs in tags.tags if tag == "svg"]
    assert "exposure matrix: owner by observer" in labels
    assert "timeline of findings per suite" in labels
    assert "Latency" in labels and "rps" in labels
    polylines = [attrs for tag, attrs in tags.tags if tag == "polyline"]
    assert len(polylines) == 3  # p95_ms + p50_ms on the latency plot, rps on its own
    assert "<title>p1&#x27;s data seen by p2: 2 time(s)</title>" in text


def test_png_artifacts_are_inlined_and_others_linked(tmp_path: Path) -> None:
    text, tags = render(tmp_path)
    images = [attrs["src"] for tag, attrs in tags.tags if tag == "img"]
    assert images == ["data:image/png;base64," + base64.b64encode(PNG).decode()]
    links = [attrs["href"] for tag, attrs in tags.tags if tag == "a"]
    assert [link for link in links if not (link or "").startswith("#")] == ["trace.zip"]
    assert "(missing)" in text


def test_clean_run_says_no_exposures(tmp_path: Path) -> None:
    from tests.reports.streams import passing_run

    text = write_html(RunCollector().consume(passing_run()), tmp_path / "r.html").read_text()
    assert 'class="badge pass"' in text
    assert "No user's data reached another user." in text


def test_opens_on_a_summary_then_contents_with_detail_collapsed(tmp_path: Path) -> None:
    # One bug flooding many users: the cause's user pairs become a count that expands.
    leaks = [
        finding(owner=f"p{i}", observer=f"p{i + 1}", time=T0 + i, suite="switch")
        for i in range(1, 9)
    ]
    events = [start("switch"), *(FindingRaised("switch", f) for f in leaks), *suite_ok("switch")]
    text = write_html(RunCollector().consume([*events, end()]), tmp_path / "r.html").read_text()
    body = text.split("<body>", 1)[1]
    assert body.startswith('<section id="summary"')
    summary = body.split("</section>", 1)[0]
    assert "Root causes: 1 behind 8 finding(s)" in summary
    assert "Coverage:" in summary and "Timing:" in summary
    tags = Tags()
    tags.feed(text)
    anchors = [a["href"] for t, a in tags.tags if t == "a" and (a.get("href") or "")[:1] == "#"]
    ids = {a.get("id") for _, a in tags.tags}
    assert anchors and all(anchor[1:] in ids for anchor in anchors)
    assert '<nav id="toc"' in text and "<details" in text and "<details open" not in text
    assert "8 exposures (owner\u2192observer)</summary>" in text
    assert "p1\u2192p2, p2\u2192p3" not in text  # the long list is behind the count
    assert "@media print{nav{display:none}" in text and "details::details-content" in text
