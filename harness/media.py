"""Stitch HTTP Range responses so a canary split across two 206 chunks is still found.

A player fetching a recording with `Range: bytes=a-b` may cut a canary in two: neither chunk
holds it, yet the observer received all of it. For every resource (per observer, URL without the
token query) the assembler keeps only `edge` bytes at each end of each chunk it has seen, never
the whole media. When a chunk arrives it returns the seams to rescan: the known bytes that
touch the chunk's first and last byte, stitched to the chunk's own edges.

Why edge windows are enough: a canary that no single chunk holds but the union of chunks does
is at most `edge + 1` bytes long, so every byte of it lies within `edge` bytes of the end of a
chunk that holds that byte, which is the part we keep.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["RangeAssembler", "Seam", "resource_key"]

ResourceKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Seam:
    """Bytes around one chunk boundary. `start` and `boundary` are offsets in the resource."""

    start: int
    data: bytes
    boundary: int  # first byte after the cut: a hit counts only if it straddles this

    def straddles(self, start: int, length: int) -> bool:
        """Does a hit at `start` (offset in `data`) cross the boundary?"""
        first = self.start + start
        return first < self.boundary < first + length


def resource_key(observer: str, url: str) -> ResourceKey:
    """The media token in the query changes per request; the resource does not."""
    return observer, url.split("?", 1)[0]


class RangeAssembler:
    """Edge windows of the Range chunks seen so far, bounded per resource and in resources."""

    def __init__(self, edge: int, *, max_windows: int = 256, max_resources: int = 1024) -> None:
        self.edge = max(edge, 1)
        self.max_windows = max_windows
        self.max_resources = max_resources
        self._windows: OrderedDict[ResourceKey, list[tuple[int, bytes]]] = OrderedDict()

    def add(self, key: ResourceKey, first: int, body: bytes) -> list[Seam]:
        """Record a chunk covering [first, first + len(body)) and return its seams to rescan."""
        if not body:
            return []
        windows = self._touch(key)
        seams = [
            seam
            for boundary in (first, first + len(body))
            if (seam := self._seam(windows, first, body, boundary)) is not None
        ]
        self._keep(windows, first, body)
        return seams

    def forget(self, key: ResourceKey) -> None:
        self._windows.pop(key, None)

    def __len__(self) -> int:
        return len(self._windows)

    def _touch(self, key: ResourceKey) -> list[tuple[int, bytes]]:
        windows = self._windows.pop(key, [])
        self._windows[key] = windows
        while len(self._windows) > self.max_resources:
            self._windows.popitem(last=False)
        return windows

    def _seam(
        self, windows: list[tuple[int, bytes]], first: int, body: bytes, boundary: int
    ) -> Seam | None:
        """The contiguous known bytes in [boundary - edge, boundary + edge) around the cut."""
        lo, hi = boundary - self.edge, boundary + self.edge
        # The bytes of [lo, hi) and which of them are known, copied a window at a time
        # (later windows, then the chunk itself, win where they overlap).
        around, known = bytearray(hi - lo), bytearray(hi - lo)
        for start, data in (*windows, (first, body)):
            a, b = max(lo, start), min(hi, start + len(data))
            if a < b:
                around[a - lo : b - lo] = data[a - start : b - start]
                known[a - lo : b - lo] = b"\x01" * (b - a)
        cut = boundary - lo
        if not (known[cut - 1] and known[cut]):
            return None  # nothing on the other side of this cut yet
        begin = known.rfind(0, 0, cut) + 1  # the contiguous known run around the cut
        end = known.find(0, cut)
        end = len(known) if end < 0 else end
        return Seam(lo + begin, bytes(around[begin:end]), boundary)

    def _keep(self, windows: list[tuple[int, bytes]], first: int, body: bytes) -> None:
        if len(body) <= 2 * self.edge:
            windows.append((first, body))
        else:
            windows.append((first, body[: self.edge]))
            windows.append((first + len(body) - self.edge, body[-self.edge :]))
        del windows[: max(0, len(windows) - self.max_windows)]
