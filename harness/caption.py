"""A caller's name drawn into their fake camera's pictures, with no font library.

A person looking at a recording (or a screenshot of one) should see whose camera it was, not
only a QR code. Pillow is not a dependency and PyAV's ffmpeg has no drawtext, so the text is a
3x5 bitmap font scaled up: capitals, digits and a little punctuation (lowercase is drawn in
capitals; anything else as a blank). The QR code, not this text, is what the oracle reads.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["GLYPH_HEIGHT", "draw_text", "text_width"]

# Each glyph: five rows of three pixels, "1" inked.
_GLYPHS = {
    "A": "010 101 111 101 101",
    "B": "110 101 110 101 110",
    "C": "011 100 100 100 011",
    "D": "110 101 101 101 110",
    "E": "111 100 110 100 111",
    "F": "111 100 110 100 100",
    "G": "011 100 101 101 011",
    "H": "101 101 111 101 101",
    "I": "111 010 010 010 111",
    "J": "001 001 001 101 010",
    "K": "101 101 110 101 101",
    "L": "100 100 100 100 111",
    "M": "101 111 111 101 101",
    "N": "110 101 101 101 101",
    "O": "010 101 101 101 010",
    "P": "110 101 110 100 100",
    "Q": "010 101 101 110 011",
    "R": "110 101 110 101 101",
    "S": "011 100 010 001 110",
    "T": "111 010 010 010 010",
    "U": "101 101 101 101 111",
    "V": "101 101 101 101 010",
    "W": "101 101 111 111 101",
    "X": "101 101 010 101 101",
    "Y": "101 101 010 010 010",
    "Z": "111 001 010 100 111",
    "0": "111 101 101 101 111",
    "1": "010 110 010 010 111",
    "2": "110 001 010 100 111",
    "3": "110 001 010 001 110",
    "4": "101 101 111 001 001",
    "5": "111 100 110 001 110",
    "6": "011 100 111 101 111",
    "7": "111 001 010 010 010",
    "8": "111 101 111 101 111",
    "9": "111 101 111 001 110",
    "-": "000 000 111 000 000",
    ".": "000 000 000 000 010",
    "'": "010 010 000 000 000",
}
_ROWS, _COLS = 5, 3
GLYPH_HEIGHT = _ROWS


def _bitmap(char: str) -> npt.NDArray[np.bool_]:
    rows = _GLYPHS.get(char.upper(), "000 000 000 000 000").split()
    return np.array([[bit == "1" for bit in row] for row in rows], dtype=bool)


def text_width(text: str, scale: int) -> int:
    """Pixels `text` takes at `scale` (one blank column between glyphs)."""
    return len(text) * (_COLS + 1) * scale


def draw_text(
    frame: npt.NDArray[np.uint8], text: str, top: int, scale: int = 2, ink: int = 0
) -> None:
    """Draw `text` centred on row `top` of a grey frame, clipped to the frame's width."""
    width = frame.shape[1]
    fits = max(0, width // ((_COLS + 1) * scale))
    text = text[:fits]
    left = max(0, (width - text_width(text, scale)) // 2)
    block = np.ones((scale, scale), dtype=bool)
    for i, char in enumerate(text):
        glyph = np.kron(_bitmap(char), block)
        x = left + i * (_COLS + 1) * scale
        area = frame[top : top + glyph.shape[0], x : x + glyph.shape[1]]
        area[glyph[: area.shape[0], : area.shape[1]]] = ink
