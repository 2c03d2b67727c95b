"""The front door (`/`) in both languages, and the API documentation (`/docs`) rendering in
headless Chromium with every request off this machine refused (no CDN, no internet)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route

from tests.factories import BRAND, World
from tests.web.conftest import screenshot


def test_front_door_in_chinese_and_english(world: World) -> None:
    zh = world.call("GET", "/")
    assert zh.status_code == 200
    assert zh.headers["content-type"].startswith("text/html")
    assert zh.headers["content-language"] == "zh-CN"
    for expected in ("产地登记", "登记的品牌", "API 文档", "签名公钥", "透明日志"):
        assert expected in zh.text
    for href in (
        f'href="/brands/{BRAND}"',
        'href="/docs"',
        'href="/.well-known/registry-keys.json"',
        'href="/v1/log/checkpoint"',
    ):
        assert href in zh.text
    assert "Registered brands" not in zh.text

    en = world.call("GET", "/?lang=en")
    assert en.headers["content-language"] == "en"
    for expected in ("Registered brands", "API documentation", "Signing keys", "Transparency log"):
        assert expected in en.text
    assert f'href="/brands/{BRAND}?lang=en"' in en.text
    assert "登记的品牌" not in en.text
    by_header = world.call("GET", "/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Registered brands" in by_header.text


def test_docs_pages_point_at_local_assets_only(world: World) -> None:
    for path in ("/docs", "/redoc"):
        page = world.call("GET", path)
        assert page.status_code == 200
        assert "http://" not in page.text
        assert "https://" not in page.text, f"{path} loads something from the internet"
    script = world.call("GET", "/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text
    assert world.call("GET", "/docs-assets/swagger-ui.css").status_code == 200


@pytest.mark.browser
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_docs_render_in_chromium_with_the_network_off(
    world: World, live_server: str, phone: Callable[[str], Page]
) -> None:
    page = phone("en-US")
    local = urlsplit(live_server).netloc
    refused: list[str] = []

    def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", only_this_server)
    page.goto(f"{live_server}/docs", timeout=60_000)
    # Generous waits: Swagger UI is 1.5 MB of script, slow to start on a loaded machine.
    page.locator(".swagger-ui .info .title").wait_for(timeout=120_000)
    assert "Origin Registry" in page.locator(".swagger-ui .info .title").inner_text()
    # The operations are listed, e.g. the public brand list.
    page.locator(".opblock-summary-path", has_text="/v1/brands").first.wait_for(timeout=60_000)
    assert refused == [], f"the docs tried to reach the internet: {refused}"
    screenshot(page, "docs-offline")
