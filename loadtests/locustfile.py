"""Origin Registry load test: consumers scanning labels, platforms verifying in bulk,
cooperatives appending events. Seed first (`python -m loadtests.seed`), then e.g.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 \
        --headless -u 64 -r 16 -t 60s

`loadtests/run.py` does both and writes a report. Settings: scenarios/common.py.
REGISTRY_LOAD_USERS picks the user classes offered here (default: the three real ones;
`healthz` adds the framework-ceiling user); user class names on the command line narrow it.
"""

from __future__ import annotations

from scenarios import ceiling, consumers, cooperatives, platforms
from scenarios.common import config

_offered = config().users
if "consumer" in _offered:
    ConsumerUser = consumers.ConsumerUser
if "platform" in _offered:
    PlatformUser = platforms.PlatformUser
if "cooperative" in _offered:
    CooperativeUser = cooperatives.CooperativeUser
if "healthz" in _offered:
    HealthzUser = ceiling.HealthzUser
