"""The label URL as served (registry/web/scan.py `LabelScans`, ahead of the framework's
router): the same answers, headers and error shape as any other route."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from starlette.responses import Response

from registry.core.db import ServiceUnavailable
from registry.scans.devices import DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE
from registry.web.scan import _cookie_header
from tests.factories import World, label_codes, labeled_batch
from tests.verify.helpers import path_of

JSON = {"Accept": "application/json"}


@pytest.fixture
def url(world: World) -> str:
    _, run = labeled_batch(world, units=10, count=1)
    (first,) = label_codes(world, run["run_id"])
    return first


@pytest.mark.parametrize("secure", [False, True])
def test_the_device_cookie_is_written_as_starlette_writes_it(secure: bool) -> None:
    theirs = Response()
    theirs.set_cookie(
        DEVICE_COOKIE, "ab" * 16, max_age=DEVICE_COOKIE_MAX_AGE, path="/",
        httponly=True, samesite="lax", secure=secure,
    )  # fmt: skip
    [expected] = [v for k, v in theirs.raw_headers if k == b"set-cookie"]
    assert _cookie_header("ab" * 16, secure) == (b"set-cookie", expected)


def test_a_first_scan_sets_the_device_cookie_and_a_reload_sends_it_back(
    world: World, url: str
) -> None:
    world.client.cookies.clear()
    first = world.client.get(path_of(url), headers=JSON)
    assert first.status_code == 200
    cookie = SimpleCookie(first.headers["set-cookie"])[DEVICE_COOKIE]
    assert cookie["httponly"]
    assert (cookie["samesite"], cookie["path"]) == ("lax", "/")
    assert not cookie["secure"]  # the test app's public URL is http://
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["vary"] == "Accept, Cookie"
    again = world.client.get(path_of(url), headers=JSON)
    assert "set-cookie" not in again.headers
    assert again.json()["scans"]["count"] == 1


def test_head_answers_the_get_headers_without_a_body(world: World, url: str) -> None:
    r = world.client.head(path_of(url), headers=JSON)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) > 0
    assert r.content == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_refused_in_the_error_shape(world: World, url: str, method: str) -> None:
    r = world.client.request(method, path_of(url), headers=JSON)
    assert r.status_code == 405
    assert r.json() == {"error": "MethodNotAllowed", "detail": "Method Not Allowed"}


def test_the_html_page_and_the_odd_paths_are_served_too(world: World, url: str) -> None:
    page = world.client.get(path_of(url), headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    odd = world.client.get("/01/123/10/x", headers=JSON)
    assert odd.status_code == 200
    assert odd.json()["verdict"] == "invalid"


def test_a_registry_error_during_a_scan_keeps_the_error_shape(
    world: World, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(*_: object, **__: object) -> None:
        raise ServiceUnavailable("the database is not answering; retry shortly")

    monkeypatch.setattr(world.client.app.state.verifier, "scan", unavailable)  # type: ignore[attr-defined]
    r = world.client.get(path_of(url), headers=JSON)
    assert r.status_code == 503
    assert r.json() == {
        "error": "ServiceUnavailable",
        "detail": "the database is not answering; retry shortly",
    }
