"""Jinja2 environment and the formatting shared by the consumer pages (dates, counties, numbers).

Every visible string comes from the catalogue through `t`; templates never hold prose.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from registry.web.counties import county_name
from registry.web.i18n import LANGUAGES, Translator, negotiate

# The registry serves Chinese county brands; one display zone keeps a page's times comparable.
DISPLAY_TZ = timezone(timedelta(hours=8))

_env = Environment(
    loader=PackageLoader("registry.web", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def format_datetime(value: datetime | None) -> str:
    """`2026-11-20 08:30` in UTC+8; naive values (SQLite) are UTC."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")


def format_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def format_number(value: Any) -> str:
    """5000.0 -> `5000`, 2.5 -> `2.5`; anything else as text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class PageContext:
    """What every page needs: the language, `t`, and helpers bound to that language."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.lang = negotiate(request)
        self.t = Translator(self.lang)

    def county(self, code: str | None) -> str:
        """`522632 榕江县` (`522632 Rongjiang County` in English where the catalogue has the
        English name; the Chinese name from the division table otherwise), or the bare
        code for a code the table does not know."""
        if not code:
            return ""
        name = self.t.optional(f"county.{code}", "") or county_name(code) or ""
        return f"{code} {name}" if name else code

    def text(self, record: Any, field: str) -> str:
        """A brand text in the page's language: on a Chinese page `{field}_local` where the
        record has it, else `{field}` (English, or whatever the owner wrote there)."""
        local = getattr(record, f"{field}_local", None) if self.lang == "zh" else None
        value = local or getattr(record, field, None)
        return "" if value is None else str(value)

    def org_name(self, name: str, name_en: str | None) -> str:
        """An organization's registered (legal) name, or its English name on English pages."""
        return name_en if self.lang == "en" and name_en else name

    def localized(self, data: dict[str, Any]) -> dict[str, Any]:
        """Event data with its `translations` into the page's language applied."""
        translations = data.get("translations") or {}
        mine = translations.get(self.lang) if isinstance(translations, dict) else None
        return {**data, **mine} if isinstance(mine, dict) else data

    def brand_name(self, brand: Any) -> str:
        """The brand's name in the page's language: `name_local` (Chinese) on a Chinese page
        when the brand has one, `name` otherwise."""
        local = getattr(brand, "name_local", None)
        return str(local) if self.lang == "zh" and local else str(brand.name)

    def unit(self, unit: Any) -> str:
        return self.t.optional(f"unit.{unit}", str(unit))

    def query_href(self, **changes: str | None) -> str:
        """A same-page relative link (`?…`) with query parameters set or removed."""
        items = [(k, v) for k, v in self.request.query_params.multi_items() if k not in changes]
        items += [(k, v) for k, v in changes.items() if v is not None]
        return "?" + urlencode(items)

    def switch_language(self) -> tuple[str, str, str]:
        """(href, language tag, label) of the link to the other language."""
        other = next(language for language in LANGUAGES if language != self.lang)
        return self.query_href(lang=other), other, self.t(f"lang.{other}")

    def html_lang(self) -> str:
        return "zh-CN" if self.lang == "zh" else "en"


def render(
    ctx: PageContext, template: str, *, status_code: int = 200, **values: Any
) -> HTMLResponse:
    body = _env.get_template(template).render(
        ctx=ctx,
        t=ctx.t,
        lang=ctx.lang,
        dt=format_datetime,
        d=format_date,
        num=format_number,
        **values,
    )
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={"Vary": "Accept-Language", "Content-Language": ctx.html_lang()},
    )
