"""The one way Chaperone opens a Rich console.

Off a terminal (a CI log, a pipe, `| less`) Rich assumes 80 columns and cuts what does not
fit: a table's timestamp column read `2026-12-…`. There, unless COLUMNS says otherwise, the
console is `OFF_TERMINAL_WIDTH` wide; a table still takes only the width its cells need.
"""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console

OFF_TERMINAL_WIDTH = 200
# An ISO timestamp to the second with its offset: a column that holds one never wraps.
TIMESTAMP_WIDTH = len("2026-12-04T14:45:16+00:00")


def make_console(**options: Any) -> Console:
    console = Console(**options)
    if "width" not in options and not console.is_terminal and not _columns_given():
        console.width = OFF_TERMINAL_WIDTH
    return console


def _columns_given() -> bool:
    return os.environ.get("COLUMNS", "").strip().isdigit()
