"""Which language a page answers in: `?lang=` first, then Accept-Language, Chinese by default."""

from __future__ import annotations

import pytest
from fastapi import Request

from registry.web.i18n import negotiate


def _request(query: str = "", accept_language: str | None = None) -> Request:
    headers = [(b"accept-language", accept_language.encode())] if accept_language else []
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "query_string": query.encode(),
            "headers": headers,
        }
    )


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("", None, "zh"),
        ("", "en-US,en;q=0.9", "en"),
        ("", "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("", "fr-FR,fr;q=0.9,en;q=0.5", "en"),
        ("", "en;q=0.4, zh-TW;q=0.8", "zh"),
        ("", "de", "zh"),
        ("", "en;q=0", "zh"),
        ("lang=en", "zh-CN", "en"),
        ("lang=zh", "en-GB", "zh"),
        ("lang=fr", "en-GB", "en"),
    ],
)
def test_negotiate(query: str, header: str | None, expected: str) -> None:
    assert negotiate(_request(query, header)) == expected
