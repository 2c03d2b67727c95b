"""Consumers: a phone scans one label and asks for the verdict (JSON, as an app would).

Mostly genuine codes, some with a tampered signature, some of recalled batches; a verdict
other than the expected one is a failed request. Each code is scanned by its own phone (the
device cookie is derived from the code), as a genuine package is: its household reloads it,
strangers do not, so no genuine code is flagged as copied however long the run.
"""

from __future__ import annotations

import hashlib
import random

import orjson
from locust import FastHttpUser, task

from .common import EXPECTED, CodePicker, wait_time, weight

JSON = {"Accept": "application/json"}


class ConsumerUser(FastHttpUser):
    weight = weight("consumer", 40)
    wait_time = wait_time()

    def on_start(self) -> None:
        self.codes = CodePicker(random.Random())

    @task
    def scan(self) -> None:
        kind, path = self.codes.pick()
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
