"""scripts/readme_figures.py: the README section is rendered from the JSON files and swapped in
between the markers, leaving the rest of the README untouched."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "readme_figures.py"

SELFTEST = {
    "faults": {
        "recording-idor": {
            "detected": True,
            "suites": ["access"],
            "findings": 3,
            "by_suite": {"access": 3},
            "suites_run": ["switch", "access", "stateful"],
        },
        "switch-race": {
            "detected": False,
            "suites": [],
            "findings": 0,
            "by_suite": {},
            "suites_run": ["switch", "access", "stateful", "load"],
        },
    },
    "clean": {"runs": 5, "runs_with_findings": 0, "errors": 1},
    "machine": {"cpu_count": 2, "python": "3.11.9", "platform": "Linux-x86_64"},
}
# What today's selftest writes: a fuzz-only run for some faults, seeds apart from runs, and
# how long it all took with how many runs at a time.
SELFTEST_WITH_FUZZ = {
    "faults": {
        "recording-idor": {
            "detected": True,
            "by_suite": {"access": 9, "fuzz": 14},
            "suites_run": ["switch", "access", "fuzz"],
            "fuzz": {"findings": 14, "from_fuzz_traffic": 11, "from_warm_up": 3},
        },
        "mail-wrong-recipient": {
            "detected": True,
            "by_suite": {"switch": 2},
            "suites_run": ["switch"],
        },
        "switch-race": {"detected": True, "by_suite": {"load": 40}, "suites_run": ["load"]},
    },
    "clean": {"runs": 22, "seed_count": 20, "runs_with_findings": 0, "errors": 0},
    "seconds": 512.3,
    "jobs": 2,
    "cpu_seconds": 1010.2,
    "runs": 48,
    "machine": {
        "cpu_count": 2,
        "python": "3.11.9",
        "platform": "Linux-x86_64",
        "load_average_start": [1.5, 1.2, 1.0],
    },
}
BENCH = {
    "oracle_mb_per_s": 87.5,
    "shrink_steps": 4,
    "shrink_patients": 2,
    "failed": ["gate"],
    "machine": {"cpu_count": 2, "python": "3.11.9", "platform": "Linux-x86_64"},
}


@pytest.fixture(scope="module")
def figures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_figures", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_section_holds_the_matrix_clean_runs_and_bench(figures: ModuleType) -> None:
    section = figures.render(SELFTEST, BENCH)
    assert section.startswith(figures.START) and section.endswith(figures.END)
    assert "| planted fault | switch | access | stateful | load | detected |" in section
    assert "| `recording-idor` | 0 | **3** | 0 | - | yes |" in section
    assert "| `switch-race` | 0 | 0 | 0 | 0 | **no** |" in section
    assert "1 of 2 planted faults detected" in section
    assert "5 seed(s): 0 run(s) with findings, 1 run(s) with errors" in section
    assert "| leak oracle throughput (10,000 canaries) | 87.5 MB/s |" in section
    assert "| gate | not measured (error) |" in section
    assert "Machine: 2 CPU(s), Python 3.11.9, Linux-x86_64." in section
    assert "load suite, bare" not in section  # not measured, so not shown


def test_fuzz_column_seeds_and_duration(figures: ModuleType) -> None:
    section = figures.render(SELFTEST_WITH_FUZZ, BENCH)
    assert "| planted fault | switch | access | load | fuzz | detected |" in section
    assert "| `recording-idor` | 0 | **9** | - | **11** | yes |" in section
    assert "| `mail-wrong-recipient` | **2** | - | - | - | yes |" in section
    assert "| `switch-race` | - | - | **40** | - | yes |" in section
    assert "3 of 3 planted faults detected; the clean clinic over 20 seed(s) (22 runs)" in section
    assert (
        "The whole selftest (48 runs) took 512 s with 2 run(s) at a time, 1010 CPU-seconds in all."
        in section
    )
    assert "1-minute load average 1.5 at the start" in section
    assert "fuzz = leaks reached by the fuzz suite's own generated requests" in section


def test_triage_line_quotes_the_root_cause_distribution(figures: ModuleType) -> None:
    data = {**SELFTEST_WITH_FUZZ, "root_causes": {"1": 2, "2": 1}, "split": []}
    section = figures.render(data, BENCH)
    assert "Triage: of the detected faults, 2 with 1 root cause, 1 with 2 root causes." in section
    split = figures.render({**data, "root_causes": {"1": 2, "3": 1}, "split": ["a"]}, BENCH)
    assert "1 with 3 root causes (more than 2: a)." in split
    assert "Triage:" not in figures.render(SELFTEST, BENCH)  # older selftest.json: no line


def test_duration_line_counts_processes_when_seeds_share_them(figures: ModuleType) -> None:
    grouped = {**SELFTEST_WITH_FUZZ, "processes": 33}
    assert "The whole selftest (48 runs in 33 processes) took 512 s" in figures.render(
        grouped, BENCH
    )


def test_old_selftest_json_has_no_duration_line(figures: ModuleType) -> None:
    assert "The whole selftest" not in figures.render(SELFTEST, BENCH)


def test_selftest_seconds_from_bench_json(figures: ModuleType) -> None:
    section = figures.render(SELFTEST, {**BENCH, "selftest_seconds": 498.2})
    assert "| full selftest (every planted fault, every clean seed) | 498.2 s |" in section


def test_markers_are_replaced_and_the_rest_kept(figures: ModuleType, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Title\n\nintro\n\n{figures.START}\nold numbers 42\n{figures.END}\n\n## After\n"
    )
    selftest, bench = tmp_path / "selftest.json", tmp_path / "bench.json"
    selftest.write_text(json.dumps(SELFTEST))
    bench.write_text(json.dumps(BENCH))
    args = ["--selftest", str(selftest), "--bench", str(bench), "--readme", str(readme)]
    assert figures.main(args) == 0
    text = readme.read_text()
    assert "old numbers 42" not in text
    assert text.startswith("# Title\n\nintro\n\n" + figures.START)
    assert text.endswith(figures.END + "\n\n## After\n")
    assert text.count(figures.START) == 1 and "87.5 MB/s" in text
    assert figures.main(args) == 0
    assert readme.read_text() == text  # regenerating is idempotent


def test_missing_markers_print_the_section(
    figures: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    selftest, bench = tmp_path / "selftest.json", tmp_path / "bench.json"
    selftest.write_text(json.dumps(SELFTEST))
    bench.write_text(json.dumps(BENCH))
    figures.main(["--selftest", str(selftest), "--bench", str(bench), "--readme", str(readme)])
    assert readme.read_text() == "# Title\n"
    out = capsys.readouterr()
    assert out.out.startswith(figures.START) and "no <!-- figures:start -->" in out.err
    assert figures.replace_section("x", "y") is None


def test_reads_by_source_media_and_the_oracle_corpus(figures: ModuleType) -> None:
    bench = {
        "gate_reads_by_source": {"profile": 19539, "openapi": 708, "crawl": 400},
        "media_oracle_x_realtime_per_core": 41.5,
        "leaks_planted": 27,
        "leaks_planted_encoded": 22,
        "leaks_missed": ["base64 at offset 2"],
    }
    table = "\n".join(figures.bench_table(bench))
    assert "| full gate, reads by source | profile 19539, openapi 708, crawl 400 |" in table
    assert "| media oracle decode speed per core | 41.5 x real time |" in table
    row = "| leaks planted in the oracle's corpus, found exactly | 26 of 27 (22 of them encoded) |"
    assert row in table
