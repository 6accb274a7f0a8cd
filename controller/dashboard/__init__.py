"""The release manager's dashboard, served by the controller: server-rendered pages over the
controller's own state, whose every action goes through the controller's decisions."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from controller.api_read import read_router
from controller.dashboard.actions import action_router
from controller.dashboard.pages import page_router
from controller.dashboard.tokens import token_router
from controller.dashboard.web import HERE, PREFIX, Web
from controller.decisions import Controller
from controller.readmodel import DEFAULT_ENVS, ReadModel


def install_dashboard(
    app: FastAPI,
    controller: Controller,
    envs: Sequence[str] = DEFAULT_ENVS,
    watch_every: float | None = None,
    watch_envs: Sequence[str] = (),
) -> None:
    """Adds the read-only JSON API, the dashboard's pages and actions, and its static files."""
    model = ReadModel(controller, envs, watch_every, watch_envs)
    web = Web(controller, model)
    app.include_router(read_router(model))
    app.include_router(page_router(web))
    app.include_router(action_router(web))
    app.include_router(token_router(web))
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
