"""Page checks shared by the browser tests: the HTML parses, is labelled, and links work."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx2

MAX_PAGE_BYTES = 100_000


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.title = ""
        self.hrefs: list[str] = []
        self.external: list[str] = []
        self.inline_scripts = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.html_lang = values.get("lang")
        elif tag == "title":
            self._in_title = True
        elif tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag in ("link", "img", "iframe") or (tag in ("script", "style") and values):
            self.external.append(tag)
        if tag == "script" and not values:
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def check_page(url: str, *, lang: str, headers: dict[str, str] | None = None) -> str:
    """Fetch `url` and assert: under 100 KB, parses, has a <title> and <html lang>, loads no
    scripts or external assets (at most one inline script: the opt-in "share my location"),
    and every same-host link works: 200, or for a link to the
    same path in another language (a 404 page's language switch), the page's own status."""
    response = httpx2.get(url, headers=headers or {})
    assert response.status_code in (200, 404), response.status_code
    assert response.headers["content-type"].startswith("text/html")
    assert len(response.content) < MAX_PAGE_BYTES, len(response.content)
    parser = _PageParser()
    parser.feed(response.text)
    parser.close()
    assert parser.title.strip(), "no <title>"
    assert parser.html_lang is not None
    assert parser.html_lang.startswith(lang), parser.html_lang
    assert parser.external == [], parser.external
    assert parser.inline_scripts <= 1
    host = urlsplit(url).netloc
    for href in parser.hrefs:
        target = urljoin(url, href)
        if urlsplit(target).netloc != host:
            continue
        answer = httpx2.get(target, headers=headers or {})
        same_path = urlsplit(target).path == urlsplit(url).path
        expected = response.status_code if same_path else 200
        assert answer.status_code == expected, (href, answer.status_code)
    return response.text
