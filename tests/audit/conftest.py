from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.audit.scenario import Scenario, build_scenario


@pytest.fixture
def scenario(client: TestClient, engine: Engine) -> Scenario:
    return build_scenario(client, engine)
