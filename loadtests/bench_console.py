"""Measurements of the cooperative console in Debian's Chromium (headless, 360x740):

- page weights: bytes of every console page and what it loads (no images exist), and any
  request that leaves the registry's own address;
- time to interactive (DOMContentLoaded after the deferred script ran) of the batch list,
  first visit (empty cache, no service worker) and repeat visit (service worker installed),
  under Chromium's "Slow 3G" emulation (CDP Network.emulateNetworkConditions: 2000 ms
  latency, 50,000 B/s down and up, DevTools' preset);
- how long a 50-event outbox takes to sync once the network returns (unthrottled and
  under Slow 3G).

    .venv/bin/python -m loadtests.bench_console [--out loadtests/out/console]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx2
from playwright.sync_api import BrowserContext, Page, sync_playwright

from loadtests.seed import bench_cooperative
from loadtests.server import Server, fresh_database
from registry.batches.event_types import EVENT_ADAPTER
from registry.batches.schemas import BatchCreate
from registry.batches.service import append_event, create_batch
from registry.console.models import MemberRole
from registry.console.service import create_member
from registry.core.db import make_engine, unit_of_work
from registry.migrate import upgrade
from registry.orgs.models import OrgKind
from registry.orgs.service import create_org

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
PHONE = {"width": 360, "height": 740}
SLOW_3G = {
    "offline": False,
    "latency": 2000,
    "downloadThroughput": 500 * 1000 / 8 * 0.8,
    "uploadThroughput": 500 * 1000 / 8 * 0.8,
}
PASSWORD = "bench-password-2026"
CACHE = "registry-console-v1"


def wait_for_worker(page: Page, seconds: float = 60) -> None:
    """Until the service worker controls the page (polled from here: the console's CSP
    forbids the string evaluation wait_for_function would use)."""
    for _ in range(int(seconds * 10)):
        if page.evaluate("() => navigator.serviceWorker.controller !== null"):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the service worker never took control of the page")


def seed(url: str) -> dict[str, str]:
    engine = make_engine(url)
    upgrade(engine)
    today = date.today()
    with unit_of_work(engine, write=True) as session:
        coop, _ = bench_cooperative(session)
        create_org(session, name="Guiyang Cold Chain", kind=OrgKind.handler)
        create_member(
            session, org_id=coop.id, username="bench", role=MemberRole.admin, password=PASSWORD
        )
        batch, _ = create_batch(
            session, actor=coop, body=BatchCreate(brand="bench", lot="BENCH-1", product="orange")
        )
        for event in (
            {
                "type": "harvested",
                "event_time": f"{today}T08:00:00+08:00",
                "location": {"county_code": "522632"},
                "data": {"quantity": 5000, "unit": "kg", "harvest_date": str(today)},
            },
            {
                "type": "packed",
                "event_time": f"{today}T09:00:00+08:00",
                "data": {"units": 1000, "unit_size": 5, "unit": "kg"},
            },
        ):
            append_event(
                session, batch_id=batch.id, event=EVENT_ADAPTER.validate_python(event), actor=coop
            )
        ids = {"batch": batch.id}
    engine.dispose()
    return ids


def new_context(browser: Any) -> BrowserContext:
    context: BrowserContext = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    return context


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/console/signin")
    page.fill("#username", "bench")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/console/batches")


def page_weights(browser: Any, base: str, batch: str) -> list[dict[str, Any]]:
    paths = {
        "signin": "/console/signin",
        "batches": "/console/batches",
        "new batch": "/console/batches/new",
        "batch": f"/console/batches/{batch}",
        "record harvested": f"/console/batches/{batch}/record/harvested",
        "record shipped": f"/console/batches/{batch}/record/shipped",
        "labels": f"/console/batches/{batch}/labels",
        "outbox": "/console/outbox",
        "offline": "/console/offline",
    }
    context = new_context(browser)
    page = context.new_page()
    sign_in(page, base)
    rows = []
    for name, path in paths.items():
        loaded: list[tuple[str, int]] = []

        def record(response: Any, into: list[tuple[str, int]] = loaded) -> None:
            try:
                size = len(response.body())
            except Exception:  # a redirect has no body to read
                size = 0
            into.append((response.url, size))

        page.on("response", record)
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        page.remove_listener("response", record)
        external = [url for url, _ in loaded if not url.startswith(base)]
        document = next((size for url, size in loaded if url.endswith(path)), 0)
        rows.append(
            {
                "page": name,
                "document_bytes": document,
                "total_bytes": sum(size for _, size in loaded),
                "requests": len(loaded),
                "external_requests": external,
            }
        )
    context.close()
    return rows


def _interactive_ms(page: Page) -> float:
    timing = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return [n.domContentLoadedEventEnd, n.domInteractive]; }"
    )
    return float(timing[0])


def _cookie_sign_in(context: BrowserContext, base: str) -> None:
    """Sign in over plain HTTP and hand the cookie to the browser, so its first visit of
    a console page is a real first visit (no service worker, nothing cached)."""
    with httpx2.Client(base_url=base) as client:
        form = client.get("/console/signin").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post(
            "/console/signin",
            data={"csrf_token": token, "username": "bench", "password": PASSWORD},
        )
        cookie = client.cookies.get("registry_console")
    context.add_cookies([{"name": "registry_console", "value": cookie or "", "url": base}])


def _throttle_everything(browser: Any, page: Page, conditions: dict[str, Any]) -> Any:
    """Slow 3G for the page and for the console's service worker (whose own fetches a
    page-level emulation would not slow down)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", conditions)
    root = browser.new_browser_cdp_session()
    for target in root.send("Target.getTargets")["targetInfos"]:
        if target["type"] != "service_worker":
            continue
        session = root.send("Target.attachToTarget", {"targetId": target["targetId"]})
        for n, (method, params) in enumerate(
            (("Network.enable", {}), ("Network.emulateNetworkConditions", conditions)), 1
        ):
            root.send(
                "Target.sendMessageToTarget",
                {
                    "sessionId": session["sessionId"],
                    "message": json.dumps({"id": n, "method": method, "params": params}),
                },
            )
    return cdp


def time_to_interactive(browser: Any, base: str, runs: int) -> dict[str, list[float]]:
    first, repeat = [], []
    for _ in range(runs):
        context = new_context(browser)
        _cookie_sign_in(context, base)
        page = context.new_page()
        page.goto("about:blank")
        _throttle_everything(browser, page, SLOW_3G)
        page.goto(f"{base}/console/batches", timeout=120_000)
        first.append(_interactive_ms(page))
        wait_for_worker(page)
        page.wait_for_timeout(3000)  # the script stores the linked pages
        page.goto("about:blank")
        _throttle_everything(browser, page, SLOW_3G)
        page.goto(f"{base}/console/batches", timeout=120_000)
        repeat.append(_interactive_ms(page))
        context.close()
    return {"first_visit_ms": first, "repeat_visit_ms": repeat}


def outbox_sync(browser: Any, base: str, batch: str, *, throttle: bool) -> float:
    """Seconds from the network's return to 50 events answered (all accepted)."""
    context = new_context(browser)
    page = context.new_page()
    sign_in(page, base)
    page.goto(f"{base}/console/outbox")
    wait_for_worker(page)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    # Offline through the same CDP session that then brings Slow 3G (or no limit) back, so
    # the two emulations never override each other.
    cdp.send("Network.emulateNetworkConditions", {**SLOW_3G, "offline": True})
    items = [
        {
            "key": str(uuid.uuid4()),
            "batch_id": batch,
            "lot": "BENCH-1",
            "type": "stored",
            "event": {
                "type": "stored",
                "event_time": f"{date.today() - timedelta(days=1)}T10:00:00+08:00",
                "data": {"place": f"shed {n}"},
            },
            "form": {},
            "phone_time": f"{date.today()}T10:00:00+08:00",
            "state": "waiting",
        }
        for n in range(50)
    ]
    page.evaluate(
        """(items) => new Promise((done) => {
          const org = document.querySelector('meta[name=org]').content;
          const open = indexedDB.open('registry-console', 1);
          open.onupgradeneeded = () => open.result.createObjectStore(
            'outbox', {keyPath: 'id', autoIncrement: true});
          open.onsuccess = () => {
            const tx = open.result.transaction('outbox', 'readwrite');
            for (const item of items) tx.objectStore('outbox').add({...item, org});
            tx.oncomplete = done;
          };
        })""",
        items,
    )
    page.reload()
    page.wait_for_selector("#outbox-list li[data-state=waiting] >> nth=49")
    conditions = (
        SLOW_3G
        if throttle
        else {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    )
    started = time.perf_counter()
    cdp.send("Network.emulateNetworkConditions", conditions)
    page.wait_for_selector("#outbox-list li[data-state=created] >> nth=49", timeout=300_000)
    elapsed = time.perf_counter() - started
    waiting = page.locator("#outbox-list li[data-state=waiting]").count()
    assert waiting == 0, waiting
    context.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("loadtests/out/console"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only-sync", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    url = fresh_database("sqlite", args.out)
    ids = seed(url)
    server = Server(database_url=url, log=args.out / "server.log")
    server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            if args.only_sync:
                print(outbox_sync(browser, server.url, ids["batch"], throttle=False))
                print(outbox_sync(browser, server.url, ids["batch"], throttle=True))
                return
            weights = page_weights(browser, server.url, ids["batch"])
            tti = time_to_interactive(browser, server.url, args.runs)
            sync_fast = outbox_sync(browser, server.url, ids["batch"], throttle=False)
            sync_slow = outbox_sync(browser, server.url, ids["batch"], throttle=True)
            browser.close()
    finally:
        server.stop()
    report = {
        "page_weights": weights,
        "time_to_interactive": {
            k: {"runs": v, "median": statistics.median(v)} for k, v in tti.items()
        },
        "outbox_50_sync_seconds": {"unthrottled": sync_fast, "slow_3g": sync_slow},
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
