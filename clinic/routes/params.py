"""Shared path and query parameters, bounded so no malformed id can reach the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2_147_483_647

RecordingId = Annotated[int, Path(ge=1, le=MAX_ID, description="recording id")]
ConsultationId = Annotated[int, Path(ge=1, le=MAX_ID, description="consultation id")]
PatientId = Annotated[int, Path(ge=1, le=MAX_ID, description="patient (user) id")]
