"""The load test's cooperatives wait their link's round trip between appends (a phone posts
an event and waits for the answer before the next); REGISTRY_LOAD_RATE still paces them.
Locust is imported in a child process: importing it patches the interpreter with gevent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.run import _parse

REPO = Path(__file__).resolve().parents[2]
_PROBE = (
    "from loadtests.scenarios.cooperatives import CooperativeUser as U\n"
    "import time\n"
    "class Stub: _cp_last_wait_time, _cp_last_run = 0, time.perf_counter()\n"  # pacing's state
    "print(U.wait_time(Stub()))\n"
)


def _cooperative_wait(**env: str) -> float:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_LOAD_")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return float(done.stdout.split()[-1])


def test_a_cooperative_waits_its_link_round_trip() -> None:
    assert _cooperative_wait() == 0.2
    assert _cooperative_wait(REGISTRY_LOAD_LINK_RTT="0.75") == 0.75
    assert _cooperative_wait(REGISTRY_LOAD_LINK_RTT="0") == 0


def test_a_set_rate_paces_cooperatives_instead() -> None:
    # constant_throughput(4): a quarter of a second per task, less the task's own time
    assert 0 < _cooperative_wait(REGISTRY_LOAD_RATE="4", REGISTRY_LOAD_LINK_RTT="5") <= 0.25


@pytest.mark.parametrize("value", ["-0.1", "61", "nan"])
def test_the_runner_refuses_a_link_round_trip_out_of_range(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse(["--link-rtt", value])
    assert exited.value.code == 2
    assert "--link-rtt must be in 0..60 seconds" in capsys.readouterr().err


def test_the_runner_passes_its_link_round_trip_on() -> None:
    assert _parse([]).link_rtt == 0.2
    assert _parse(["--link-rtt", "0"]).link_rtt == 0
