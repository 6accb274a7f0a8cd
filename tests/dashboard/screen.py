"""What a person sees without scrolling: the dashboard's first screen at 1280x800."""

from __future__ import annotations

from playwright.sync_api import Locator, expect

WIDTH, HEIGHT = 1280, 800


def on_first_screen(*parts: Locator) -> None:
    """Each part visible and wholly inside the unscrolled 1280x800 viewport."""
    for part in parts:
        expect(part).to_be_visible()
        page = part.page
        assert page.evaluate("window.scrollY") == 0
        assert page.viewport_size == {"width": WIDTH, "height": HEIGHT}
        box = part.bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, (str(part), box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (str(part), box)
