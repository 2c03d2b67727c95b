"""The README's tour is docs/tour.sh, and the script runs top to bottom against a fresh
server on a port of the test's choosing (real uvicorn, real SQLite file, real curl)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "docs" / "tour.sh"


def _readme_tour() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A tour of the API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the tour section has one shell block"
    return str(blocks[0])


def test_the_readme_tour_is_the_script() -> None:
    assert _readme_tour() == TOUR.read_text()
    assert os.access(TOUR, os.X_OK)


def test_every_request_with_a_body_says_it_is_json() -> None:
    script = TOUR.read_text()
    assert 'J="Content-Type: application/json"' in script
    with_body = [line for line in script.splitlines() if "curl" in line and " -d " in line]
    assert len(with_body) >= 15
    for line in with_body:
        assert '-H "$J"' in line, line
    # Every variable the tour uses, it sets first.
    used = set(re.findall(r"\$\{?([A-Z][A-Z_]*)", script))
    assigned = set(re.findall(r"^\s*(?:export )?([A-Z][A-Z_]*)=", script, flags=re.MULTILINE))
    assigned |= set(re.findall(r";\s*([A-Z][A-Z_]*)=", script))
    assert used <= assigned, used - assigned


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tour_env(port: int) -> dict[str, str]:
    """The tour's environment: no REGISTRY_ settings of the test run, this venv's tools."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return env | {
        "PORT": str(port),
        "REGISTRY": str(Path(sys.executable).parent / "registry"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }


@pytest.mark.skipif(shutil.which("curl") is None, reason="the tour uses curl")
def test_the_tour_runs_against_a_fresh_server() -> None:
    port = _free_port()
    env = _tour_env(port)
    result = subprocess.run(
        ["bash", str(TOUR)],  # as the README says to run it: the script sets its own -e
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "tour done" in output
    # The label URLs follow the chosen port, and every check of the label says genuine.
    assert re.search(
        rf"http://127\.0\.0\.1:{port}/01/06901234567892/10/RJ-TOUR-A/21/00000001\?8030=", output
    )
    assert output.count("genuine") >= 3
    assert "sheet job succeeded" in output
    assert '"intact":true' in output
    assert "0 broken chain(s)" in output
    files = Path(re.findall(r"its files are in (\S+)", output)[-1])
    try:
        assert (files / "labels.pdf").read_bytes().startswith(b"%PDF")
        assert (files / "codes.csv").read_text().count(f"127.0.0.1:{port}/01/") == 100
    finally:
        shutil.rmtree(files, ignore_errors=True)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the tour uses curl")
def test_the_tour_stops_when_another_server_has_its_port() -> None:
    """A newcomer who left `registry demo` running on 8000 got a bare 401 from the tour's
    first call (its admin key, sent to the demo), then one error per step; now the tour
    names the cause and stops there, pasted into an interactive shell too (which it leaves
    running: the tour is a subshell)."""
    port = _free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=ROOT / "docs", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        env = _tour_env(port)
        pasted = _readme_tour() + "echo the shell goes on\n"
        result = subprocess.run(
            ["bash", "--norc", "--noprofile", "-i"],  # a terminal's shell, as pasted into
            input=pasted, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
    finally:
        other.terminate()
        other.wait(timeout=10)
    output = result.stdout + result.stderr
    assert f"something already answers on http://127.0.0.1:{port}" in output
    assert "is at head" not in output  # it stopped there: no database was made
    assert "401" not in output
    assert "the shell goes on" in result.stdout
