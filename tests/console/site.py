"""One registry served by uvicorn for a whole browser test module: a SQLite database with
the factory's world and member logins for a cooperative, another cooperative and a handler."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page

from registry.console.models import MemberRole
from registry.core.db import make_engine
from registry.main import create_app
from tests.console.helpers import PASSWORD, make_member
from tests.factories import World, build_world
from tests.web.conftest import PHONE, SCREENSHOTS


@dataclass
class Site:
    url: str
    world: World

    def context(self, browser: Browser, locale: str = "zh-CN", **more: object) -> BrowserContext:
        return browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale=locale, **more
        )

    def sign_in(self, page: Page, username: str) -> None:
        page.goto(f"{self.url}/console/")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url("**/console/{batches,goods}")


@contextmanager
def serve(template: Path, tmp: Path, *, quota_kg: float = 200_000) -> Iterator[Site]:
    db = tmp / "console.db"
    shutil.copy(template, db)
    engine = make_engine(f"sqlite:///{db}")
    app = create_app(engine)
    with TestClient(app) as client:
        world = build_world(client, engine, quota_kg=quota_kg)
    make_member(engine, world.coop.id, "zhang", MemberRole.admin)
    make_member(engine, world.coop2.id, "li")
    make_member(engine, world.handler.id, "wang")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", http="h11", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Site(f"http://127.0.0.1:{port}", world)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
