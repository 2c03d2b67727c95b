"""Prometheus text exposition (format 0.0.4) of this process's counters at `GET /metrics`.

Counters are per process: with several API processes, scrape each (or sum them). Sources
are objects on `app.state` with a `metrics()` method, read at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request, Response

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Sample:
    name: str
    kind: Literal["counter", "gauge"]
    help: str
    value: float


def render(samples: Iterable[Sample]) -> str:
    lines: list[str] = []
    for sample in samples:
        lines.append(f"# HELP {sample.name} {sample.help}")
        lines.append(f"# TYPE {sample.name} {sample.kind}")
        lines.append(f"{sample.name} {sample.value:g}")
    return "\n".join(lines) + "\n"


router = APIRouter(tags=["ops"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """This process's counters in the Prometheus text format."""
    samples: list[Sample] = []
    for source in getattr(request.app.state, "metric_sources", []):
        samples.extend(source.metrics())
    return Response(render(samples), media_type=CONTENT_TYPE)
