"""The framework's ceiling: the same app's `/healthz` (no I/O), measured with the same
generator against the same server, so verify throughput can be read as a ratio of it."""

from __future__ import annotations

from locust import FastHttpUser, task

from .common import wait_time


class HealthzUser(FastHttpUser):
    wait_time = wait_time()

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="GET /healthz")
