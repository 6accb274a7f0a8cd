"""The ownership flow against a real PostgreSQL (started here; failing to start is a failure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic.app import create_app
from clinic.settings import ClinicSettings
from tests.clinic.testclient import TestClient
from tests.clinic.world import SUPPORT_TOKEN, check_ownership_flow, seed
from tests.services.postgres import postgres


@pytest.mark.integration
def test_ownership_flow_on_postgresql(tmp_path: Path) -> None:
    with postgres() as pg:
        url = pg.create_database("clinic_test")
        assert url.startswith("postgresql://")
        settings = ClinicSettings(
            data_dir=tmp_path,
            db_url=url,
            support_token=SUPPORT_TOKEN,
            switch_negotiation_seconds=0.0,
        )
        with TestClient(create_app(settings)) as client:
            assert client.app.state.clinic.db.engine.dialect.name == "postgresql"
            world = seed(client)
            check_ownership_flow(world)
            # reset + reseed must work on PostgreSQL too (sequences, foreign keys)
            assert seed(client).ids.keys() == world.ids.keys()
