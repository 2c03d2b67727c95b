"""The brand page and its 404, in headless Chromium at phone size, in both languages.

Browser tests run on SQLite only: the queries behind the page are covered on both backends
by test_brand_overview.py, and a browser launch per backend would double the slowest tests.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.factories import BRAND, World, harvested
from tests.web.checks import check_page
from tests.web.conftest import screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),
]


def _no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


def test_brand_page(world: World, live_server: str, phone: Callable[[str], Page]) -> None:
    r = world.call(
        "PATCH",
        f"/v1/brands/{BRAND}",
        world.owner,
        json={
            "description": "都柳江畔梯田里的脐橙。Thin skin, high sugar.",
            "standard": "DB52/T 1590",
        },
    )
    assert r.status_code == 200, r.text
    batch = world.new_batch()
    world.ok(batch["id"], world.coop, harvested(200, day="2025-11-20"))

    url = f"{live_server}/brands/{BRAND}"
    page = phone("zh-CN")
    page.goto(url)
    assert page.locator("h1").inner_text() == "榕江脐橙"
    body = page.locator("main").inner_text()
    for expected in (
        "522632 榕江县",
        "coop org",
        "coop2 org",
        "2025 年",
        "1 个批次",
        "DB52/T 1590",
    ):
        assert expected in body
    _no_horizontal_scroll(page)
    screenshot(page, "brand-zh")

    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Rongjiang Navel Orange"
    body = page.locator("main").inner_text()
    for expected in ("522632 Rongjiang County", "Licensed cooperatives", "1 batch\n", "2025"):
        assert expected in body
    screenshot(page, "brand-en")

    # No Accept-Language at all: Chinese, the default.
    check_page(url, lang="zh-CN")
    check_page(url, lang="en", headers={"Accept-Language": "en-US,en;q=0.9"})
    check_page(url + "?lang=en", lang="en")


def test_unknown_brand_is_a_translated_404_page(
    world: World, live_server: str, phone: Callable[[str], Page]
) -> None:
    url = f"{live_server}/brands/no-such-brand"
    page = phone("zh-CN")
    response = page.goto(url)
    assert response is not None
    assert response.status == 404
    assert page.locator("h1").inner_text() == "页面不存在"
    assert "no-such-brand" in page.locator("main").inner_text()

    english = phone("en-US")
    response = english.goto(url)
    assert response is not None
    assert response.status == 404
    assert english.locator("h1").inner_text() == "Page not found"
    screenshot(english, "brand-404-en")
    check_page(url + "?lang=en", lang="en")
