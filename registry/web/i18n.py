"""The translation catalogue (messages.json) and the choice of language for a request.

Chinese is the default; `?lang=en|zh` wins over `Accept-Language`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import Request

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


@lru_cache
def catalogue() -> dict[str, dict[str, str]]:
    """`{language: {message id: text}}`, read once from messages.json.

    The file is keyed by message id, `{"id": {"zh": ..., "en": ...}}`, so both
    translations of a message sit side by side; a missing translation raises KeyError here.
    """
    return {
        language: {mid: texts[language] for mid, texts in raw_catalogue().items()}
        for language in LANGUAGES
    }


@lru_cache
def raw_catalogue() -> dict[str, dict[str, str]]:
    """messages.json as stored: `{message id: {language: text}}`."""
    text = resources.files("registry.web").joinpath("messages.json").read_text("utf-8")
    data: dict[str, dict[str, str]] = json.loads(text)
    return data


def _from_accept_language(header: str) -> str | None:
    best: tuple[float, str] | None = None
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        # Equal qualities keep the client's order: the earlier entry wins.
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, primary)
    return best[1] if best else None


def negotiate(request: Request) -> str:
    """The page language: `?lang=` if supported, else the best `Accept-Language` match."""
    asked = request.query_params.get("lang", "").lower()
    if asked in LANGUAGES:
        return asked
    return _from_accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANGUAGE


class Translator:
    """`t("message.id", name=value)`: the catalogue text in one language, formatted."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._messages = catalogue()[language]

    def __call__(self, message_id: str, /, **values: Any) -> str:
        text = self._messages[message_id]
        return text.format(**values) if values else text

    def has(self, message_id: str) -> bool:
        return message_id in self._messages

    def optional(self, message_id: str, fallback: str) -> str:
        """The message if the catalogue has it (county names, units), else `fallback`."""
        return self._messages.get(message_id, fallback)
