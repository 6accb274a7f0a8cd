"""`GET /api/search`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator

from clinic.auth import CurrentUser, State
from clinic.routes.responses import AUTH
from clinic.schemas import SearchResults, storable
from clinic.search import search

router = APIRouter(tags=["search"])
SearchText = Annotated[str, Query(min_length=1, max_length=200), AfterValidator(storable)]


@router.get("/api/search", responses=AUTH)
async def api_search(q: SearchText, user: CurrentUser, state: State) -> SearchResults:
    """A patient's appointments (reason) and recordings (title); a clinician's patients (name)
    and those patients' shared recordings (title). Case-insensitive substring match."""
    with state.db.read() as session:
        return SearchResults(items=search(session, state, user, q))
