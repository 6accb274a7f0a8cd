"""Recording media on disk and HTTP byte ranges.

A media file is a small text header naming the consultation (patient, NHS number, reason)
followed by deterministic synthetic frames, so the patient's identity is really in the bytes
any viewer downloads.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

FRAME_SIZE = 1024
FRAMES_PER_SEGMENT = 6
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True, slots=True)
class SegmentIdentity:
    consultation_id: int
    segment_no: int
    mode: str
    patient_name: str
    nhs_number: str
    reason: str


def render_media(identity: SegmentIdentity) -> bytes:
    header = (
        "CLINIC-MEDIA/1\n"
        f"consultation: {identity.consultation_id}\n"
        f"segment: {identity.segment_no}\n"
        f"mode: {identity.mode}\n"
        f"patient: {identity.patient_name}\n"
        f"nhs_number: {identity.nhs_number}\n"
        f"reason: {identity.reason}\n"
        "\n"
    ).encode()
    rng = random.Random(f"{identity.consultation_id}:{identity.segment_no}:{identity.mode}")
    frames = b"".join(
        b"FRAME" + index.to_bytes(4, "big") + rng.randbytes(FRAME_SIZE)
        for index in range(FRAMES_PER_SEGMENT)
    )
    return header + frames


def store_media(media_dir: Path, data: bytes) -> Path:
    media_dir.mkdir(parents=True, exist_ok=True)
    path = media_dir / f"{uuid.uuid4().hex}.media"
    path.write_bytes(data)
    return path


class RangeNotSatisfiable(ValueError):
    pass


def parse_range(header: str, size: int) -> tuple[int, int]:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range as inclusive (start, end).

    Anything else (several ranges, other units, garbage, past the end) is not satisfiable.
    """
    match = _RANGE.match(header.strip())
    if not match or not (match.group(1) or match.group(2)) or size == 0:
        raise RangeNotSatisfiable(header)
    first, last = match.group(1), match.group(2)
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(header)
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(header)
    return start, end
