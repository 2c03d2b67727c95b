"""The verification page end to end: real label codes issued through the API, opened by
headless Chromium at 360x740, one real situation per verdict, in Chinese and English.

Browser tests run on SQLite only: the verdict logic is tested on both backends by the verify
tests, and a second backend here would double the slowest tests without new coverage of the
page. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from tests.factories import (
    BRAND,
    World,
    harvested,
    packed,
    recalled,
    received,
    shipped,
)
from tests.web.checks import check_page
from tests.web.conftest import screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("engine", ["sqlite"], indirect=True),
]

Phone = Callable[[str], Page]


@dataclass
class Labelled:
    batch_id: str
    paths: list[str]  # label URLs without scheme and host: `/01/…?8030=…`
    chain_length: int


def inspected() -> dict[str, object]:
    return {
        "type": "inspected",
        "event_time": "2026-11-20T15:00:00+08:00",
        "data": {
            "method": "GB 2763 residue screen",
            "analytes": ["chlorpyrifos", "imidacloprid"],
            "result": "pass",
            "lab": "Qiandongnan QC lab",
        },
    }


def labelled_batch(world: World, *, count: int = 3) -> Labelled:
    """A batch harvested in Rongjiang, inspected, packed, labelled, shipped and received."""
    batch = world.new_batch(variety="Newhall")
    bid = batch["id"]
    world.ok(bid, world.coop, harvested(5000, day="2026-11-20"))
    world.ok(bid, world.coop, inspected())
    world.ok(bid, world.coop, packed(units=10, unit_size=5))
    r = world.call("POST", f"/v1/batches/{bid}/labels", world.coop, json={"count": count})
    assert r.status_code == 201, r.text
    run_id = r.json()["run_id"]
    world.ok(bid, world.coop, shipped(world.handler.id, quantity=10))
    head = world.ok(bid, world.handler, received(world.coop.id, quantity=10))
    r = world.call("GET", f"/v1/labels/runs/{run_id}/codes", world.coop)
    assert r.status_code == 200, r.text
    paths = []
    for code in r.json():
        url = urlsplit(code["url"])
        paths.append(f"{url.path}?{url.query}")
    return Labelled(bid, paths, chain_length=head["seq"] + 1)


def open_code(phone: Phone, live_server: str, path: str, locale: str = "zh-CN") -> Page:
    page = phone(locale)
    response = page.goto(live_server + path)
    assert response is not None
    assert response.status == 200
    return page


def banner(page: Page) -> str:
    return page.locator("[role=status]").inner_text()


def main_text(page: Page) -> str:
    return page.locator("main").inner_text()


def fits_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


def test_genuine(world: World, live_server: str, phone: Phone) -> None:
    labelled = labelled_batch(world)
    page = open_code(phone, live_server, labelled.paths[0])
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text().endswith("正品")
    assert "榕江脐橙" in banner(page)
    text = main_text(page)
    for fact in (
        "522632 榕江县",  # the brand's county, named
        "coop org",  # the producer
        "2026-11-20",  # the harvest date
        "plot A-12",  # the harvest place
        "5000 公斤",
        "采收",  # timeline, translated event types …
        "检测",
        "发货",
        "收货",
        "handler org",  # … with the custodian who recorded the receipt
        "合格",  # the inspection result
        "正品。您是第一位查验这枚码的人",
        f"记录条数\n{labelled.chain_length}",
    ):
        assert fact in text, fact
    fits_phone(page)
    screenshot(page, "verify-genuine-zh")

    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text().endswith("Genuine")
    text = main_text(page)
    for fact in ("522632 Rongjiang County", "Harvested", "Shipped", "Received", "pass"):
        assert fact in text, fact
    screenshot(page, "verify-genuine-en")

    # An English phone gets English without the switch.
    english = open_code(phone, live_server, labelled.paths[1], locale="en-GB")
    assert english.locator("h1").inner_text().endswith("Genuine")

    html = check_page(live_server + labelled.paths[2], lang="zh-CN")
    assert f"/brands/{BRAND}" in html  # checked above: the brand link answers 200


def test_recalled(world: World, live_server: str, phone: Phone) -> None:
    labelled = labelled_batch(world)
    world.ok(labelled.batch_id, world.owner, recalled())

    page = open_code(phone, live_server, labelled.paths[0])
    assert page.locator("h1").inner_text().endswith("已召回")
    text = banner(page)
    assert "召回原因：pesticide residue above limit" in text
    assert "请停止食用" in text  # what to do
    assert "召回" in main_text(page)  # the recall is on the timeline
    fits_phone(page)
    screenshot(page, "verify-recalled-zh")

    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text().endswith("Recalled")
    assert "Stop eating it" in banner(page)
    screenshot(page, "verify-recalled-en")
    check_page(live_server + labelled.paths[1] + "&lang=en", lang="en")


def test_suspicious_when_the_brand_is_suspended(
    world: World, live_server: str, phone: Phone
) -> None:
    labelled = labelled_batch(world)
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"status": "suspended"})
    assert r.status_code == 200, r.text

    page = open_code(phone, live_server, labelled.paths[0])
    assert page.locator("h1").inner_text().endswith("可疑")
    assert "该品牌已被暂停使用" in banner(page)
    assert "12315" in banner(page)
    fits_phone(page)
    screenshot(page, "verify-suspicious-zh")

    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text().endswith("Suspicious")
    assert "The brand has been suspended" in banner(page)
    screenshot(page, "verify-suspicious-en")
    check_page(live_server + labelled.paths[1], lang="zh-CN")


def test_a_copied_code_warns(world: World, live_server: str, phone: Phone) -> None:
    labelled = labelled_batch(world, count=1)
    r = world.call("PATCH", f"/v1/brands/{BRAND}", world.owner, json={"scan_alert_threshold": 1})
    assert r.status_code == 200, r.text

    first = open_code(phone, live_server, labelled.paths[0])
    first.reload()  # a reload is the same phone: it never counts again
    assert first.locator("h1").inner_text().endswith("正品")
    page = open_code(phone, live_server, labelled.paths[0])  # a second phone, same code
    assert page.locator("h1").inner_text().endswith("可疑")
    assert "警告：这枚码看起来被复制了" in main_text(page)
    assert "查验过这枚码的手机\n2 部" in main_text(page)
    screenshot(page, "verify-copied-zh")
    first.reload()  # the first phone keeps its answer
    assert first.locator("h1").inner_text().endswith("正品")
    assert "您是第一位查验这枚码的人" in main_text(first)


def test_invalid_when_the_signature_is_tampered(
    world: World, live_server: str, phone: Phone
) -> None:
    labelled = labelled_batch(world)
    path = labelled.paths[0]
    digsig_at = path.index("8030=") + len("8030=")
    # Change one signature character (not the key id): the code no longer verifies.
    position = digsig_at + 40
    tampered = path[:position] + ("A" if path[position] != "A" else "B") + path[position + 1 :]

    page = open_code(phone, live_server, tampered)
    assert page.locator("h1").inner_text().endswith("无效")
    text = banner(page)
    assert "数字签名不匹配" in text
    assert "请不要购买" in text
    # An invalid code lends the batch it names no credibility: no origin, no timeline.
    assert "采收日期" not in main_text(page)
    assert "榕江脐橙" not in main_text(page)
    fits_phone(page)
    screenshot(page, "verify-invalid-zh")

    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text().endswith("Not valid")
    assert "The digital signature does not match" in banner(page)
    screenshot(page, "verify-invalid-en")
    check_page(live_server + tampered, lang="zh-CN")
