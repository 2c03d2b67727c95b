"""The demo's pages speak the viewer's language wherever the data has it: the Chinese pages
carry none of the English texts that the data also has in Chinese, and the other way round
(only the brand's Chinese name stays on English pages, as it is printed on the box)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from registry.batches.models import Event
from registry.brands.models import Brand
from registry.core.db import make_engine, unit_of_work
from registry.demo import BRAND_SLUG
from registry.main import create_app
from registry.orgs.models import Organization
from registry.web.counties import county_name, county_names
from tests.dbtools import run_cli

BRAND_TEXTS = ("category", "description", "standard")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str, str]]:
    """A demo database; yields (engine, printed output, a label URL it printed)."""
    tmp = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{tmp / 'demo.db'}"
    result = run_cli(url, "demo", "--no-serve", "--out", str(tmp / "out"))
    assert result.exit_code == 0, result.output
    label = re.search(r"^\s+(http://\S+/01/\S+)$", result.output, re.MULTILINE)
    assert label is not None, result.output
    engine = make_engine(url)
    yield engine, result.output, label.group(1)
    engine.dispose()


def _pairs(engine: Engine) -> list[tuple[str, str]]:
    """(Chinese, English) texts of the same thing, as the demo's data holds them."""
    pairs: list[tuple[str, str]] = []
    with unit_of_work(engine) as session:
        for brand in session.exec(select(Brand)):
            if brand.name_local:
                pairs.append((brand.name_local, brand.name))
            for field in BRAND_TEXTS:
                local = getattr(brand, f"{field}_local")
                if local and getattr(brand, field):
                    pairs.append((local, getattr(brand, field)))
        for org in session.exec(select(Organization)):
            if org.name_en:
                pairs.append((org.name, org.name_en))
        for event in session.exec(select(Event)):
            data: dict[str, Any] = dict(event.data)
            originals = {**data, "place": (event.location or {}).get("place")}
            for field, english in data.get("translations", {}).get("en", {}).items():
                chinese = originals.get(field)
                for zh, en in zip(
                    chinese if isinstance(chinese, list) else [chinese],
                    english if isinstance(english, list) else [english],
                    strict=True,
                ):
                    if zh and zh != en:
                        pairs.append((str(zh), str(en)))
    return pairs


def _text(html: str) -> str:
    """The page's visible text, roughly: tags dropped, entities of the templates decoded."""
    body = re.sub(r"<style.*?</style>|<[^>]+>", " ", html, flags=re.DOTALL)
    return body.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"')


def test_the_demo_prints_its_brand_page_and_the_english_one(
    demo: tuple[Engine, str, str],
) -> None:
    _, output, _ = demo
    assert f"http://127.0.0.1:8000/brands/{BRAND_SLUG}\n" in output or (
        f"http://127.0.0.1:8000/brands/{BRAND_SLUG} " in output
    )
    assert f"http://127.0.0.1:8000/brands/{BRAND_SLUG}?lang=en" in output


def test_demo_pages_show_the_viewer_s_language(demo: tuple[Engine, str, str]) -> None:
    engine, _, label = demo
    pairs = _pairs(engine)
    assert len(pairs) >= 15, pairs  # names, brand texts, inputs, places, lab, analytes...
    path = label.removeprefix("http://127.0.0.1:8000")
    with TestClient(create_app(engine)) as client:
        for page in (path, f"/brands/{BRAND_SLUG}", "/"):
            zh = _text(client.get(page, headers={"Accept-Language": "zh-CN"}).text)
            en = _text(client.get(page + ("&" if "?" in page else "?") + "lang=en").text)
            for chinese, english in pairs:
                assert english not in zh, f"{page} in Chinese shows {english!r} ({chinese!r})"
            brand_name = pairs[0][0]
            others = en.replace(brand_name, "")  # the Chinese name as printed on the box
            for chinese, english in pairs[1:]:
                assert chinese not in others, f"{page} in English shows {chinese!r} ({english!r})"
            if page != "/":
                assert "榕江县" in zh
            if page == path:  # the label's page: what grew where, in the reader's language
                for expected in ("有机肥", "寨蒿村 A-12 地块", "脐橙 · 纽荷尔", "毒死蜱", "贵阳"):
                    assert expected in zh
                for expected in ("organic compost", "Zhaibian village, plot A-12", "Newhall"):
                    assert expected in en
                assert brand_name in en


def test_every_valid_county_code_has_a_name() -> None:
    names = county_names()
    assert len(names) > 2800  # China has ~2,850 county-level divisions
    assert county_name("522632") == "榕江县"
    assert county_name("230184") == "五常市"
    assert county_name("520102") == "南明区"
    assert all(re.fullmatch(r"\d{6}", code) for code in names)


def test_a_county_without_a_catalogued_name_renders_with_its_table_name(
    demo: tuple[Engine, str, str],
) -> None:
    engine, _, _ = demo
    with TestClient(create_app(engine)) as client:
        owner_key = json.loads(
            (Path(str(engine.url.database)).parent / "out" / "api-keys.json").read_text()
        )["owner"]["api_key"]
        r = client.post(
            "/v1/brands",
            headers={"Authorization": f"Bearer {owner_key}"},
            json={
                "slug": "wuchang-rice",
                "name": "Wuchang Rice",
                "name_local": "五常大米",
                "category": "rice",
                "category_local": "大米",
                "county_codes": ["230184"],
            },
        )
        assert r.status_code == 201, r.text
        page = client.get("/brands/wuchang-rice").text
        assert "230184 五常市" in page
        assert "大米" in page
        assert ">rice<" not in page
