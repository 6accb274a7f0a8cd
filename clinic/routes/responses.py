"""The error responses each JSON route declares, so /openapi.json tells the truth.

Errors are `{"detail": "..."}` (the `Problem` schema); a 422 is FastAPI's validation error
list, which FastAPI declares by itself on every route that takes parameters or a body.
"""

from __future__ import annotations

from typing import Any

from clinic.schemas import Problem

Responses = dict[int | str, dict[str, Any]]


def problem(status: int, description: str) -> Responses:
    return {status: {"model": Problem, "description": description}}


def merge(*parts: Responses) -> Responses:
    merged: Responses = {}
    for part in parts:
        merged.update(part)
    return merged


AUTH = problem(401, "not logged in: no, unknown or logged-out bearer token or session cookie")
BAD_JSON = problem(400, "the body is not parseable JSON")
CLINICIANS_ONLY = problem(403, "clinicians only")
RECORDING_NOT_FOUND = problem(404, "no such recording visible to you")
CALL_NOT_FOUND = problem(404, "no such consultation you may drive")
CALL_CONFLICT = problem(409, "not possible in the call's current state")
PATIENT_NOT_FOUND = problem(404, "no such patient in your care")


def file_download(media_type: str, description: str) -> Responses:
    schema = {"type": "string", "format": "binary"}
    return {200: {"content": {media_type: {"schema": schema}}, "description": description}}
