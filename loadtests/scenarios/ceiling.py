"""`GET /healthz` (no I/O): against `loadtests/bare.py` it is the framework's ceiling, served
by the same command and measured with the same generator, so verify throughput can be read
as a ratio of it; against the registry, the latency the generator and machine add."""

from __future__ import annotations

from locust import FastHttpUser, task

from .common import wait_time


class HealthzUser(FastHttpUser):
    wait_time = wait_time()

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="GET /healthz")
