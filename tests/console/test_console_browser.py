"""The console in Debian's Chromium at 360x740, in Chinese: sign in, a batch from harvest to
its label sheet, three events recorded offline that land once and in order after the page
was closed, a refused offline harvest with its numbers fixed and resent, another
cooperative kept out, a handler's goods, and a phone without JavaScript."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pypdf import PdfReader

from registry.core.config import get_settings
from tests.console.site import Site, serve, shot
from tests.factories import GTIN

pytestmark = pytest.mark.browser
CACHE = "registry-console-v1"


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("console")
    patch = pytest.MonkeyPatch()
    patch.setenv("REGISTRY_JOB_OUTPUT_DIR", str(tmp / "jobs"))  # the label sheet PDFs
    get_settings.cache_clear()
    try:
        with serve(sqlite_template, tmp) as running:
            yield running
    finally:
        patch.undo()
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    """What the tests of this module hand on to each other (the batch they built)."""
    return {}


def wait_for_worker(page: Page, seconds: float = 60) -> None:
    """Until the service worker controls the page (polled from here: the console's CSP
    forbids the string evaluation wait_for_function would use)."""
    for _ in range(int(seconds * 10)):
        if page.evaluate("() => navigator.serviceWorker.controller !== null"):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the service worker never took control of the page")


def _events(site: Site, batch_id: str) -> list[dict[str, Any]]:
    return site.world.events(batch_id, site.world.coop)


def _record(page: Page, site: Site, batch_id: str, type_: str, fields: dict[str, str]) -> None:
    page.goto(f"{site.url}/console/batches/{batch_id}/record/{type_}")
    for name, value in fields.items():
        selector = f"[name='{name}']"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click("form[data-outbox] button[type=submit]")
    page.wait_for_url("**/console/outbox")


def _wait_answered(page: Page, count: int, state: str = "created") -> None:
    expect(page.locator(f"#outbox-list li[data-state={state}]")).to_have_count(count, timeout=20000)


def test_batch_from_harvest_to_label_sheet(
    browser: Browser, site: Site, state: dict[str, Any]
) -> None:
    context = site.context(browser, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{site.url}/console/")
    expect(page.locator("h1")).to_have_text("登录")
    shot(page, "signin-zh")
    site.sign_in(page, "zhang")
    expect(page.locator("h1")).to_have_text("我的批次")
    expect(page.get_by_text("已采收 0 公斤 / 配额 200000 公斤")).to_be_visible()

    page.click("text=新建批次 >> nth=-1")
    page.fill("#lot", "RJ2026-CONSOLE")
    page.fill("#product", "脐橙")
    page.fill("#variety", "纽荷尔")
    page.fill("#gtin", GTIN)
    shot(page, "new-batch-zh")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/batches/[0-9a-f-]{36}$"))
    batch_id = page.url.rsplit("/", 1)[1]
    state["batch_id"] = batch_id
    expect(page.locator(".stage").first).to_have_text("已登记")

    _record(page, site, batch_id, "harvested", {"data.quantity": "5000", "data.plot": "A-12"})
    _wait_answered(page, 1)
    _record(
        page,
        site,
        batch_id,
        "inspected",
        {
            "data.method": "GB 2763 农残检测",
            "data.analytes": "毒死蜻，多菌灵",
            "data.result": "pass",
        },
    )
    _wait_answered(page, 2)
    _record(page, site, batch_id, "packed", {"data.units": "1000", "data.unit_size": "5"})
    _wait_answered(page, 3)
    shot(page, "outbox-zh")
    events = _events(site, batch_id)
    assert [e["type"] for e in events] == ["created", "harvested", "inspected", "packed"]
    assert events[2]["data"]["analytes"] == ["毒死蜻", "多菌灵"]
    assert events[1]["event_time_offset"] == "+00:00" or events[1]["event_time_offset"]

    page.goto(f"{site.url}/console/batches/{batch_id}/labels")
    page.fill("#count", "24")
    page.click("form[action$='/labels'] button")
    page.wait_for_url("**/labels")
    expect(page.get_by_text("已发标签 24 张")).to_be_visible()
    shot(page, "labels-zh")
    page.click("form[action$='/sheet'] button")
    page.wait_for_url("**/console/jobs/*")
    shot(page, "job-zh")
    expect(page.locator("#download")).to_be_visible(timeout=60000)  # the page refreshes itself
    with page.expect_download() as download:
        page.click("#download")
    pdf = download.value.path()
    assert PdfReader(str(pdf)).pages, "the sheet has pages"
    assert Path(pdf).read_bytes().startswith(b"%PDF")
    shot(page, "job-done-zh")
    context.close()


def _cached_urls(page: Page) -> list[str]:
    return list(
        page.evaluate(f"caches.open('{CACHE}').then(c => c.keys()).then(ks => ks.map(k => k.url))")
    )


def _install_offline(page: Page, site: Site, batch_id: str) -> None:
    """Open the batch page until the service worker controls it and has kept its forms."""
    page.goto(f"{site.url}/console/batches/{batch_id}")
    wait_for_worker(page)
    page.reload()
    form = f"{site.url}/console/batches/{batch_id}/record/stored"
    for _ in range(100):
        if form in _cached_urls(page):
            break
        page.wait_for_timeout(100)
    assert form in _cached_urls(page)


def test_offline_events_land_once_in_order_after_the_page_was_closed(
    browser: Browser,
    site: Site,
    state: dict[str, Any],
) -> None:
    batch_id = state["batch_id"]
    context = site.context(browser)
    page = context.new_page()
    site.sign_in(page, "zhang")
    _install_offline(page, site, batch_id)
    before = len(_events(site, batch_id))

    context.set_offline(True)
    _record(page, site, batch_id, "stored", {"data.place": "2号冷库"})
    _record(page, site, batch_id, "cooled", {"data.place": "预冷间", "data.temperature_c": "4"})
    _record(
        page,
        site,
        batch_id,
        "input_applied",
        {"data.input_name": "保鲜剂", "data.dose": "2", "data.dose_unit": "kg"},
    )
    expect(page.locator("#outbox-list li[data-state=waiting]")).to_have_count(3)
    expect(page.locator("#outbox-status")).to_contain_text("没有网络")
    assert len(_events(site, batch_id)) == before  # nothing reached the registry

    page.close()  # the browser tab goes; IndexedDB keeps the outbox
    page = context.new_page()
    page.goto(f"{site.url}/console/outbox")
    expect(page.locator("#outbox-list li[data-state=waiting]")).to_have_count(3)
    expect(page.locator("#outbox-list li").first).to_contain_text("等待发送")
    shot(page, "outbox-offline-zh")

    context.set_offline(False)  # the member does nothing: the page sends by itself
    expect(page.locator("#outbox-list li[data-state=waiting]")).to_have_count(0, timeout=30000)
    events = _events(site, batch_id)
    assert [e["type"] for e in events[before:]] == ["stored", "cooled", "input_applied"]
    assert len(events) == before + 3
    for prev, event in itertools.pairwise(events):
        assert event["prev_hash"] == prev["hash"]
    audit = site.world.call("GET", f"/v1/batches/{batch_id}/audit", site.world.coop).json()
    assert (audit["intact"], audit["length"]) == (True, before + 3)

    # Sent again (a reply lost on the way): the registry answers "already there".
    page.evaluate(
        """() => new Promise(done => {
          const open = indexedDB.open('registry-console', 1);
          open.onsuccess = () => {
            const store = open.result.transaction('outbox', 'readwrite').objectStore('outbox');
            store.getAll().onsuccess = (e) => {
              for (const item of e.target.result) { item.state = 'waiting'; store.put(item); }
              store.transaction.oncomplete = done;
            };
          };
        })"""
    )
    page.reload()
    _wait_answered(page, 3, "duplicate")
    assert len(_events(site, batch_id)) == before + 3
    context.close()


def test_offline_harvest_over_quota_comes_back_refused_with_numbers(
    browser: Browser,
    site: Site,
    state: dict[str, Any],
) -> None:
    batch_id = state["batch_id"]
    context = site.context(browser)
    page = context.new_page()
    site.sign_in(page, "zhang")
    _install_offline(page, site, batch_id)
    page.goto(f"{site.url}/console/batches/{batch_id}/record/harvested")
    context.set_offline(True)
    _record(page, site, batch_id, "harvested", {"data.quantity": "300000"})
    expect(page.locator("#outbox-list li[data-state=waiting]")).to_have_count(1)
    context.set_offline(False)
    refused = page.locator("#outbox-list li[data-state=rejected]")
    expect(refused).to_have_count(1, timeout=30000)
    expect(refused).to_contain_text("超出年度配额")
    expect(refused).to_contain_text("300000 公斤")
    expect(refused).to_contain_text("305000 公斤")
    expect(refused).to_contain_text("配额 200000 公斤")
    shot(page, "outbox-refused-zh")

    refused.locator("a.button").click()  # fix and resend
    page.wait_for_url("**/record/harvested?fix=*")
    expect(page.locator("[name='data.quantity']")).to_have_value("300000")
    page.fill("[name='data.quantity']", "800")
    page.click("form[data-outbox] button[type=submit]")
    page.wait_for_url("**/console/outbox")
    expect(page.locator("#outbox-list li[data-state=rejected]")).to_have_count(0, timeout=30000)
    expect(page.locator("#outbox-list li[data-state=created]").first).to_contain_text("采收")
    harvests = [e for e in _events(site, batch_id) if e["type"] == "harvested"]
    assert [h["data"]["quantity"] for h in harvests] == [5000, 800]
    context.close()


def test_another_cooperative_cannot_see_or_touch_the_batch(
    browser: Browser,
    site: Site,
    state: dict[str, Any],
) -> None:
    batch_id = state["batch_id"]
    length = len(_events(site, batch_id))
    context = site.context(browser)
    page = context.new_page()
    site.sign_in(page, "li")
    expect(page.locator("body")).not_to_contain_text("RJ2026-CONSOLE")
    response = page.goto(f"{site.url}/console/batches/{batch_id}")
    assert response is not None
    assert response.status == 403
    expect(page.locator(".error")).to_contain_text("没有权限")
    shot(page, "refused-zh")
    form = page.goto(f"{site.url}/console/batches/{batch_id}/record/stored")
    assert form is not None
    assert form.status == 403
    page.goto(f"{site.url}/console/batches")
    answer = page.evaluate(
        """async (batch) => {
          const csrf = document.querySelector('meta[name=csrf-token]').content;
          const r = await fetch('/v1/sync', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: JSON.stringify({items: [{batch_id: batch, idempotency_key: 'intruder-1',
              event: {type: 'stored', event_time: '2026-11-20T08:00:00+08:00',
                      data: {place: 'elsewhere'}}}]})});
          return await r.json();
        }""",
        batch_id,
    )
    assert answer["results"][0]["status"] == "rejected"
    assert answer["results"][0]["status_code"] == 403
    assert len(_events(site, batch_id)) == length
    context.close()


def test_ship_to_a_handler_and_its_goods_view(
    browser: Browser,
    site: Site,
    state: dict[str, Any],
) -> None:
    batch_id = state["batch_id"]
    world = site.world
    coop = site.context(browser)
    page = coop.new_page()
    site.sign_in(page, "zhang")
    page.goto(f"{site.url}/console/batches/{batch_id}/record/shipped")
    options = page.locator("[name='data.to_org_id'] option").all_inner_texts()
    assert "handler org" in options
    assert "coop org" not in options
    shot(page, "ship-zh")
    _record(
        page,
        site,
        batch_id,
        "shipped",
        {"data.quantity": "100", "data.unit": "box", "data.to_org_id": world.handler.id},
    )
    _wait_answered(page, 1)
    coop.close()

    handler = site.context(browser)
    page = handler.new_page()
    site.sign_in(page, "wang")
    expect(page.locator("h1")).to_have_text("货物")
    expect(page.locator("body")).to_contain_text("在途 500 公斤")
    shot(page, "goods-zh")
    page.click("text=登记收货")
    expect(page.locator("[name='data.quantity']")).to_have_value("500")
    page.click("form[data-outbox] button[type=submit]")
    page.wait_for_url("**/console/outbox")
    _wait_answered(page, 1)
    page.goto(f"{site.url}/console/goods")
    expect(page.locator("body")).to_contain_text("没有待收的货")
    expect(page.locator("body")).to_contain_text("持有 500 公斤")
    handler.close()


PAGES = {
    "signin": "/console/signin",
    "batches": "/console/batches",
    "new-batch": "/console/batches/new",
    "batch": "/console/batches/{batch}",
    "record-harvested": "/console/batches/{batch}/record/harvested",
    "record-inspected": "/console/batches/{batch}/record/inspected",
    "record-shipped": "/console/batches/{batch}/record/shipped",
    "labels": "/console/batches/{batch}/labels",
    "outbox": "/console/outbox",
    "offline": "/console/offline",
}


def test_every_page_in_both_languages_without_javascript(
    browser: Browser,
    site: Site,
    state: dict[str, Any],
) -> None:
    """Screenshots of every page in zh and en; and a phone without JavaScript records an
    event with the plain form."""
    batch_id = state["batch_id"]
    for locale, lang in (("zh-CN", "zh"), ("en-US", "en")):
        context: BrowserContext = site.context(browser, locale=locale, java_script_enabled=False)
        page = context.new_page()
        site.sign_in(page, "zhang")
        for name, path in PAGES.items():
            response = page.goto(site.url + path.format(batch=batch_id))
            assert response is not None
            assert response.status == 200, name
            assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
            shot(page, f"{name}-{lang}")
        handler = site.context(browser, locale=locale, java_script_enabled=False)
        hpage = handler.new_page()
        site.sign_in(hpage, "wang")
        shot(hpage, f"goods-{lang}")
        handler.close()
        if lang == "zh":
            before = len(_events(site, batch_id))
            page.goto(f"{site.url}/console/batches/{batch_id}/record/stored")
            page.fill("[name='data.place']", "3号冷库")
            page.click("main button[type=submit]")
            page.wait_for_url(f"**/console/batches/{batch_id}?recorded=*")
            expect(page.locator("ol.events")).to_contain_text("3号冷库")
            assert len(_events(site, batch_id)) == before + 1
        context.close()
