"""Console tests hash member passwords with Argon2id at a lower cost (8 MiB, 1 pass): the
same library and algorithm, so sign-ins stay fast on a shared 2-core machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from registry.core.config import get_settings
from tests.web.conftest import browser  # noqa: F401  (Chromium, shared with the web tests)


@pytest.fixture(autouse=True, scope="module")
def _cheap_password_hashes() -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("REGISTRY_CONSOLE_PASSWORD_MEMORY_KIB", "8192")
    patch.setenv("REGISTRY_CONSOLE_PASSWORD_TIME_COST", "1")
    patch.setenv("REGISTRY_CONSOLE_PASSWORD_PARALLELISM", "1")
    get_settings.cache_clear()
    yield
    patch.undo()
    get_settings.cache_clear()
