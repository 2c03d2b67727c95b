"""The verification page renders every shape a VerifyResult can take, without a browser."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from registry.verify.schemas import (
    CodeInfo,
    Reason,
    ReasonCode,
    TimelineEntry,
    Verdict,
    VerifyResult,
)
from registry.web.pages import verification_page

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def _serve(result: VerifyResult) -> TestClient:
    app = FastAPI()

    @app.get("/01/{rest:path}")
    def page(rest: str, request: Request) -> HTMLResponse:
        return verification_page(request, result)

    return TestClient(app)


def test_a_malformed_code_has_no_code_info_and_still_renders() -> None:
    result = VerifyResult(
        verdict=Verdict.invalid,
        reasons=[Reason(code=ReasonCode.malformed_code, message="GTIN check digit is wrong")],
        code=None,
        checked_at=NOW,
    )
    r = _serve(result).get("/01/123", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert "Not valid" in r.text
    assert "The code is malformed" in r.text
    # The shopper reads a sentence; the technical detail stays in the JSON answer.
    assert "GTIN check digit is wrong" not in r.text
    assert "format=json" not in r.text  # nothing to link to without a code
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-language"] == "en"


def test_a_bad_signature_page_says_a_sentence_not_bytes_or_hex() -> None:
    detail = "signature does not verify: b'\\x01\\x02' (key 0a1b, sig 9f8e7d6c5b4a39281706)"
    result = VerifyResult(
        verdict=Verdict.invalid,
        reasons=[Reason(code=ReasonCode.bad_signature, message=detail)],
        code=CodeInfo(gtin="06901234567892", lot="L1", serial="1", key_id="0a1b", url="u"),
        checked_at=NOW,
    )
    sentences = (("en", "The digital signature does not match"), ("zh", "数字签名不匹配"))
    for lang, sentence in sentences:
        text = _serve(result).get("/01/x?8030=s", headers={"Accept-Language": lang}).text
        assert sentence in text
        assert "b'" not in text
        assert "9f8e7d6c5b4a39281706" not in text


def test_times_show_in_china_time_and_sparse_events_render() -> None:
    result = VerifyResult(
        verdict=Verdict.genuine,
        reasons=[],
        code=CodeInfo(gtin="06901234567892", lot="L1", serial="1", key_id="ab12", url="u"),
        timeline=[
            # Optional fields missing, and an event type added after this page was written.
            TimelineEntry(
                seq=1,
                type="harvested",
                event_time=NOW,
                actor="coop",
                place=None,
                county_code="110101",
                data={"quantity": 12.5, "unit": "t"},
            ),
            TimelineEntry(
                seq=2,
                type="fumigated",
                event_time=NOW,
                actor="coop",
                place=None,
                county_code=None,
                data={},
            ),
        ],
        checked_at=NOW,
    )
    text = _serve(result).get("/01/x?8030=s").text
    assert "2026-11-25 12:00" in text  # 04:00 UTC is noon in UTC+8
    assert "12.5 吨" in text
    assert "110101" in text  # a county without a catalogue name shows its bare code
    assert "fumigated" in text
    assert 'href="?8030=s&amp;lang=en"' in text  # the switch keeps the signature


def test_the_real_endpoint_answers_a_browser_with_this_page(client: TestClient) -> None:
    r = client.get("/01/123/10/A/21/1", headers={"Accept": "text/html,*/*"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "无效" in r.text
