"""The translation catalogue is complete in both languages and covers every message the
pages can ask for."""

from __future__ import annotations

import re
import string
from importlib import resources

from registry.batches.event_types import COUNT_UNITS, EVENT_TYPES, MASS_UNITS_KG
from registry.verify.schemas import ReasonCode, Verdict
from registry.web.i18n import LANGUAGES, catalogue, raw_catalogue
from registry.web.pages import EVENT_FACTS

TEMPLATES = resources.files("registry.web").joinpath("templates")
# `t("id")` or `t("id", name=...)`: a literal id. `t("prefix." ~ x ...)`: a family of ids.
LITERAL = re.compile(r"""\bt\(\s*"([^"]+)"\s*[,)]""")
FAMILY = re.compile(r"""\bt\(\s*"([^"]+)"\s*~""")


def _template_sources() -> dict[str, str]:
    return {
        item.name: item.read_text("utf-8")
        for item in TEMPLATES.iterdir()
        if item.name.endswith(".html")
    }


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_no_empty_text() -> None:
    for message_id, texts in raw_catalogue().items():
        assert set(texts) == set(LANGUAGES), message_id
        assert all(text.strip() for text in texts.values()), message_id
    zh, en = (catalogue()[language] for language in LANGUAGES)
    assert set(zh) == set(en)


def test_translations_take_the_same_placeholders() -> None:
    for message_id, texts in raw_catalogue().items():
        assert _placeholders(texts["zh"]) == _placeholders(texts["en"]), message_id


def test_every_literal_message_id_in_the_templates_exists() -> None:
    known = set(raw_catalogue())
    used = {mid for source in _template_sources().values() for mid in LITERAL.findall(source)}
    assert len(used) > 40  # the pattern still matches the templates' spelling
    assert used - known == set()


def test_every_message_family_the_templates_build_is_complete() -> None:
    families = {m for source in _template_sources().values() for m in FAMILY.findall(source)}
    expansions = {
        "verdict.": [f"verdict.{v}.{part}" for v in Verdict for part in ("title", "lead")]
        + [f"verdict.{v}.todo" for v in Verdict if v != Verdict.genuine],
        "reason.": [f"reason.{code}" for code in ReasonCode],
        "inspection.": ["inspection.pass", "inspection.fail"],
    }
    assert families <= set(expansions), families - set(expansions)
    missing = [mid for family in families for mid in expansions[family]]
    assert [mid for mid in missing if mid not in raw_catalogue()] == []


def test_event_types_units_and_facts_are_translated() -> None:
    known = raw_catalogue()
    assert [t for t in EVENT_TYPES if f"event.{t}" not in known] == []
    units = [*MASS_UNITS_KG, *COUNT_UNITS]
    assert [u for u in units if f"unit.{u}" not in known] == []
    assert set(EVENT_FACTS) <= set(EVENT_TYPES)
    for facts in EVENT_FACTS.values():
        for message_id, fields in facts:
            assert _placeholders(known[message_id]["en"]) == set(fields), message_id


def test_the_demo_county_has_a_name() -> None:
    assert catalogue()["zh"]["county.522632"] == "榕江县"
    assert catalogue()["en"]["county.522632"] == "Rongjiang County"
