"""Consumers: a phone scans one label and asks for the verdict (JSON, as an app would).

Mostly genuine codes, some with a tampered signature, some of recalled batches; a verdict
other than the expected one is a failed request. Each code is scanned by its own phone (the
device cookie is derived from the code), as a genuine package is: no genuine code is flagged
as copied however long the run. Codes are fresh (`FreshCodes`: no other user scanned them),
and a phone loads its code again as often as the issue's market measured (fresh.RELOAD_SHARE).
"""

from __future__ import annotations

import hashlib
import random

import orjson
from locust import FastHttpUser, task

from .common import EXPECTED, FreshCodes, wait_time, weight
from .fresh import reloads

JSON = {"Accept": "application/json"}


class ConsumerUser(FastHttpUser):
    weight = weight("consumer", 40)
    wait_time = wait_time()

    def on_start(self) -> None:
        self.rng = random.Random()
        self.codes = FreshCodes(self.rng)
        self.again: tuple[str, str] | None = None

    @task
    def scan(self) -> None:
        if self.again is not None:  # the phone opens its last code again
            (kind, path), self.again = self.again, None
        else:
            kind, path = self.codes.pick()
            if reloads(self.rng):
                self.again = (kind, path)
        device = hashlib.sha256(path.split("?")[0].encode()).hexdigest()[:32]
        headers = {**JSON, "Cookie": f"rg_device={device}"}
        with self.client.get(
            path, headers=headers, name=f"GET /01/…/21/… {kind}", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return
            verdict = orjson.loads(response.content or b"{}").get("verdict")
            if verdict != EXPECTED[kind]:
                response.failure(f"{kind} code {path[:60]}… answered {verdict!r}")
