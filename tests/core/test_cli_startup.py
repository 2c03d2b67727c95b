"""`registry audit` starts without the HTTP stack: it imports neither FastAPI, uvicorn,
Celery nor the Redis client, whose imports cost about as much CPU as auditing 50,000
events (docs/benchmarks.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AUDIT_AND_LIST_MODULES = """
import sys
from registry.cli import app
try:
    app(["audit", "--all"])
except SystemExit as exit_:
    print(exit_.code)
print(" ".join(sorted(sys.modules)))
"""


def test_audit_all_imports_no_server_worker_or_redis_modules(tmp_path: Path) -> None:
    env = {**os.environ, "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}"}
    env.pop("REGISTRY_REDIS_URL", None)
    upgrade = [sys.executable, "-m", "registry.cli", "db", "upgrade"]
    subprocess.run(upgrade, env=env, check=True, capture_output=True)
    out = subprocess.run(
        [sys.executable, "-c", AUDIT_AND_LIST_MODULES],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert out[0].startswith("audited 0 events"), out[0]
    assert out[1] == "0"
    top_level = {name.split(".")[0] for name in out[2].split()}
    assert top_level.isdisjoint({"fastapi", "starlette", "uvicorn", "celery", "redis"}), (
        top_level & {"fastapi", "starlette", "uvicorn", "celery", "redis"}
    )
