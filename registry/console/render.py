"""The console's language, catalogue and Jinja2 rendering.

Chinese by default; `?lang=en|zh` wins and is remembered in a cookie, then the browser's
Accept-Language. Every visible string comes from console/messages.json.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from registry.web.i18n import LANGUAGES, negotiate

LANG_COOKIE = "registry_console_lang"

_env = Environment(
    loader=PackageLoader("registry.console", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@lru_cache
def raw_catalogue() -> dict[str, dict[str, str]]:
    """messages.json as stored: `{message id: {language: text}}`."""
    text = resources.files("registry.console").joinpath("messages.json").read_text("utf-8")
    data: dict[str, dict[str, str]] = json.loads(text)
    return data


@lru_cache
def catalogue(language: str) -> dict[str, str]:
    return {mid: texts[language] for mid, texts in raw_catalogue().items()}


class Translator:
    def __init__(self, language: str) -> None:
        self.language = language
        self._messages = catalogue(language)

    def __call__(self, message_id: str, /, **values: Any) -> str:
        text = self._messages[message_id]
        return text.format(**values) if values else text

    def optional(self, message_id: str, fallback: str) -> str:
        return self._messages.get(message_id, fallback)


def language_of(request: Request) -> str:
    asked = request.query_params.get("lang", "").lower()
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANG_COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    return negotiate(request)


def number(value: Any) -> str:
    """5000.0 -> `5000`, 2.5 -> `2.5`."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    csrf: str = "",
    **values: Any,
) -> HTMLResponse:
    lang = language_of(request)
    t = Translator(lang)
    other = next(code for code in LANGUAGES if code != lang)
    values.setdefault("me", None)
    values.setdefault("nav", "")
    body = _env.get_template(template).render(
        t=t,
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else "en",
        other_lang=other,
        csrf=csrf,
        num=number,
        path=request.url.path,
        **values,
    )
    response = HTMLResponse(
        body,
        status_code=status_code,
        headers={
            "Content-Language": "zh-CN" if lang == "zh" else "en",
            "Vary": "Accept-Language, Cookie",
            # Pages carry the member's data: never kept by shared caches.
            "Cache-Control": "private, no-cache",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; "
                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
            ),
        },
    )
    if request.query_params.get("lang", "").lower() in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=3600 * 24 * 365, path="/console")
    return response
