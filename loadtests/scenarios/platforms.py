"""E-commerce platforms: verify a listing's codes in bulk, 100-1000 at a time.

Each request mixes genuine, forged and recalled codes; every per-code verdict is checked,
and one wrong verdict fails the whole request.
"""

from __future__ import annotations

import random

import orjson
from locust import FastHttpUser, task

from .common import EXPECTED, CodePicker, config, wait_time, weight


class PlatformUser(FastHttpUser):
    weight = weight("platform", 2)
    wait_time = wait_time()

    def on_start(self) -> None:
        self.rng = random.Random()
        self.codes = CodePicker(self.rng)

    @task
    def verify_listing(self) -> None:
        cfg = config()
        size = self.rng.randint(cfg.bulk_min, cfg.bulk_max)
        picked = [self.codes.pick() for _ in range(size)]
        body = orjson.dumps({"codes": [cfg.public_url + path for _, path in picked]})
        with self.client.post(
            "/v1/verify",
            data=body,
            headers={"Content-Type": "application/json"},
            name="POST /v1/verify",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return
            results = orjson.loads(response.content or b"{}").get("results", [])
            if len(results) != size:
                response.failure(f"{size} codes sent, {len(results)} results")
                return
            for (kind, path), result in zip(picked, results, strict=True):
                if result.get("verdict") != EXPECTED[kind]:
                    response.failure(f"{kind} code {path[:60]}… answered {result.get('verdict')!r}")
                    return
