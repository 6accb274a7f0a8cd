"""Write every file report at once: report.json, junit.xml, report.html."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harness.errors import UsageError
from reports.html import write_html
from reports.json_report import write_json
from reports.junit import write_junit
from reports.result import RunResult

REPORT_FILES = {"json": "report.json", "junit": "junit.xml", "html": "report.html"}


def write_all(result: RunResult, out_dir: Path, secrets: Iterable[str] = ()) -> dict[str, Path]:
    """Write the three reports into `out_dir` (created if needed); returns kind -> path.

    An out dir we cannot create or write is the user's to fix, so it is a UsageError.
    """
    out_dir = Path(out_dir)
    known = tuple(secrets)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return {
            "json": write_json(result, out_dir / REPORT_FILES["json"], known),
            "junit": write_junit(result, out_dir / REPORT_FILES["junit"], known),
            "html": write_html(result, out_dir / REPORT_FILES["html"], known),
        }
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"cannot write to {out_dir}: {reason}", "pass a writable --out") from None
