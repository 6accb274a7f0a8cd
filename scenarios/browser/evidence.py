"""Evidence a finding carries: a full-page screenshot with the foreign items outlined, and the
user's Playwright trace. Both land in `<out_dir>/browser/`; the HTML report embeds the PNGs."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Error as PlaywrightError

from harness.profile.model import BrowserSpec
from harness.world import World
from scenarios.browser.dom import DEFAULT_ROWS, highlight
from scenarios.browser.user import BrowserUser

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(*parts: str) -> str:
    return _UNSAFE.sub("_", "-".join(p for p in parts if p)).strip("_")


def foreign_to(world: World, observer: str, var: str) -> tuple[list[str], list[str]]:
    """Canary values, and the owner values (each user's `var`) that `observer` may not see."""
    may_see = world.ownership.may_see
    canaries = [c.value for c in world.ownership.canaries if not may_see(observer, c.owner)]
    owners = [
        str(actor.vars[var])
        for actor in world.actors.values()
        if var in actor.vars and not actor.is_anonymous and not may_see(observer, actor.id)
    ]
    return canaries, owners


@dataclass
class Evidence:
    root: Path
    files: list[str] = field(default_factory=list)
    # Actors whose trace must be kept because a finding points at it.
    flagged: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def trace_path(self, actor: str) -> Path:
        return self.root / f"trace-{safe_name(actor)}.zip"

    async def screenshot(
        self, user: BrowserUser, world: World, spec: BrowserSpec, step: str
    ) -> Path:
        """The page as it is now, with every row holding foreign data outlined in red."""
        canaries, owners = foreign_to(world, user.actor.id, spec.row_owner_var)
        await highlight(user.page, spec.row or DEFAULT_ROWS, spec.row_owner_attr, canaries, owners)
        path = self.root / f"{safe_name(step.replace('/', '-'))}.png"
        await user.page.screenshot(path=str(path), full_page=True)
        self._keep(path)
        self.flagged.add(user.actor.id)
        return path

    async def close(self, user: BrowserUser, keep_all: bool) -> None:
        """Stop the user's trace, saving it if a finding (or an error) needs it."""
        keep = keep_all or user.actor.id in self.flagged
        path = self.trace_path(user.actor.id)
        # A browser that already died cannot hand over its trace; the error says why.
        with contextlib.suppress(PlaywrightError):
            await user.context.tracing.stop(path=str(path) if keep else None)
            if keep:
                self._keep(path)
        with contextlib.suppress(PlaywrightError):
            await user.context.close()

    def _keep(self, path: Path) -> None:
        if str(path) not in self.files:
            self.files.append(str(path))
