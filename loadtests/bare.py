"""The framework's ceiling: a bare FastAPI app with one async endpoint and no I/O, served by
the same uvicorn command as the registry (`loadtests/server.py`), so a registry endpoint's
throughput can be read as a ratio of what FastAPI on uvicorn gives at all on this machine.

    uvicorn loadtests.bare:app
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}
