"""Cooperatives: record `stored` events on the batches they hold, with an API key and an
Idempotency-Key, as a member's phone does: one event at a time, each after the answer to the
last and a round trip of the village link (REGISTRY_LOAD_LINK_RTT)."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime

from locust import FastHttpUser, task

from .common import config, seed_data, wait_time, weight

_turns = itertools.count()


class CooperativeUser(FastHttpUser):
    weight = weight("cooperative", 1)
    wait_time = wait_time(config().link_rtt)

    def on_start(self) -> None:
        cooperatives = seed_data()["cooperatives"]
        # Users take the cooperatives in turn, so concurrent appends spread over batches.
        coop = cooperatives[next(_turns) % len(cooperatives)]
        self.auth = {"Authorization": f"Bearer {coop['api_key']}"}
        self.batches = list(coop["batches"])
        self.rng = random.Random()

    @task
    def store(self) -> None:
        batch_id = self.rng.choice(self.batches)
        event = {
            "type": "stored",
            "event_time": datetime.now(UTC).isoformat(),
            "location": {"place": "village cold room"},
            "data": {"place": "village cold room", "conditions": "4-8 °C"},
        }
        with self.client.post(
            f"/v1/batches/{batch_id}/events",
            json=event,
            headers={**self.auth, "Idempotency-Key": str(uuid.uuid4())},
            name="POST /v1/batches/{id}/events stored",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
