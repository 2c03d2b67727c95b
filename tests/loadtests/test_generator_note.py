"""The report's note on Locust's own cost per request (loadtests/run.py): near one core in
both phases, the Locust ratio reads the generator's costs, not the server's."""

from __future__ import annotations

from loadtests.phases import EndpointStats, PhaseResult
from loadtests.report import Summary, render
from loadtests.run import _generator_note


def _phase(rps: float, generator_cores: float) -> PhaseResult:
    stats = EndpointStats("GET x", int(rps * 10), 0, rps, 1.0, 2.0, 3.0, 4.0)
    return PhaseResult("verify", "locust", 32, 10, [stats], stats, 0.9, generator_cores)


def test_the_note_gives_locusts_cpu_per_request_and_its_ratio() -> None:
    note = _generator_note(140.0, _phase(2_800, 0.868))
    assert note.startswith("Locust's own CPU: 140 µs per bare-app request, 310 µs per scan")
    assert "(ratio 0.45), at 0.87 of a core in the verify phase" in note


def test_no_note_without_a_ceiling_or_without_scans() -> None:
    assert _generator_note(None, _phase(2_800, 0.87)) == ""
    assert _generator_note(140.0, _phase(0, 0.0)) == ""


def _locust_row(summary: Summary) -> str:
    report = render(setup={}, phases=[], summary=summary, workers=1)
    return next(line for line in report.splitlines() if line.startswith("| verify / bare (Locust)"))


def test_the_locust_ratio_is_judged_only_when_the_bare_phase_kept_the_server_busy() -> None:
    busy = Summary(ceiling_rps=6_000, verify_rps=2_700, ceiling_server_cores=0.97,
                   ceiling_generator_cores=0.8)  # fmt: skip
    assert _locust_row(busy).endswith("| **not met** |")
    busy.verify_rps = 3_000
    assert _locust_row(busy).endswith("| met |")
    idle = Summary(ceiling_rps=6_000, verify_rps=2_700, ceiling_server_cores=0.78,
                   ceiling_generator_cores=0.98)  # fmt: skip
    assert _locust_row(idle).endswith("| n/a |")
    report = render(setup={}, phases=[], summary=idle, workers=1)
    assert "server ran at 0.78 of a core and Locust at 0.98" in report
    assert "not judged" not in render(setup={}, phases=[], summary=busy, workers=1)
