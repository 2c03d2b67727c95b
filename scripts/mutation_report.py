"""Summarize a mutmut run (mutants/*.meta) per module, for `bash scripts/mutation`.

Prints a per-module table, each surviving mutant with its diff, the equivalent mutants
listed in pyproject.toml that no longer match a survivor, and ends with exactly one line:
`mutation: K killed, S survived, T timed out, N no tests, score P%`.

The score is (killed + timed out) / (all mutants - equivalent), Stryker's definition: a
mutant that makes the tests hang is caught too. Equivalent mutants are the ones listed in
`[tool.mutmut-equivalent]` of pyproject.toml (`"module.function: mutated line" = "why"`).
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
SEPARATOR = "ǁ"  # mutmut's separator of class and method in a mutant's name
COLUMNS = ("killed", "survived", "timeout", "no tests", "equivalent", "other")


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str
    status: str

    @property
    def function(self) -> str:
        """`module.Class.method` or `module.function` of this mutant."""
        mangled = self.name.rpartition(".")[2].partition("__mutmut_")[0]
        if mangled.startswith("x" + SEPARATOR):
            _, cls, method = mangled.split(SEPARATOR)
            return f"{self.module}.{cls}.{method}"
        return f"{self.module}.{mangled.removeprefix('x_')}"


def module_of(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def load_mutants(paths: list[str]) -> list[Mutant]:
    mutants = []
    for path in paths:
        meta = ROOT / "mutants" / (path + ".meta")
        if not meta.exists():
            sys.exit(f"mutation: no results for {path} (did mutmut run?)")
        exit_codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        for name, code in exit_codes.items():
            mutants.append(Mutant(name, module_of(path), status_by_exit_code[code]))
    return mutants


def signature(mutant: Mutant, diff: str) -> str:
    """`module.function: the mutated line(s)`, stable while the function's other lines move."""
    added = [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return f"{mutant.function}: {' ⏎ '.join(added)}"


def main(argv: list[str]) -> int:
    os.chdir(ROOT)  # mutmut reads its files relative to the working directory
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    paths = argv or pyproject["tool"]["mutmut"]["only_mutate"]
    equivalent: dict[str, str] = pyproject["tool"].get("mutmut-equivalent", {})

    mutants = load_mutants(paths)
    table: dict[str, Counter[str]] = {module_of(p): Counter() for p in paths}
    survivors: list[tuple[Mutant, str, str]] = []
    matched: set[str] = set()
    for mutant in mutants:
        status = mutant.status
        if status in ("survived", "no tests"):
            diff = get_diff_for_mutant(mutant.name, path=mutant.module.replace(".", "/") + ".py")
            key = signature(mutant, diff)
            if key in equivalent:
                matched.add(key)
                status = "equivalent"
            else:
                survivors.append((mutant, key, diff))
        if status not in COLUMNS:
            status = "other"
        table[mutant.module][status] += 1

    report = ROOT / "mutants" / "survivors.txt"
    with report.open("w", encoding="utf-8") as out:
        for mutant, key, diff in survivors:
            out.write(f"## {mutant.name} ({mutant.status})\n# {key}\n{diff}\n\n")
    for mutant, key, _ in survivors:
        print(f"  {mutant.status}: {mutant.name}\n      {key}")
    if survivors:
        print(f"diffs of the {len(survivors)} mutants above: {report.relative_to(ROOT)}")

    stale = sorted(k for k in equivalent if k not in matched and _in_scope(k, table))
    for key in stale:
        print(f"  listed as equivalent but no such survivor now (killed or gone): {key}")

    width = max(len(m) for m in table)
    header = f"{'module':<{width}}  {'mutants':>7}  " + "  ".join(f"{c:>10}" for c in COLUMNS)
    print(header + "  " + f"{'score':>6}")
    total: Counter[str] = Counter()
    for module, counts in table.items():
        total.update(counts)
        print(_row(module, counts, width))
    print(_row("total", total, width))

    counted = sum(total[c] for c in COLUMNS) - total["equivalent"]
    detected = total["killed"] + total["timeout"]
    score = 100.0 * detected / counted if counted else 100.0
    print(
        f"mutation: {total['killed']} killed, {total['survived']} survived, "
        f"{total['timeout']} timed out, {total['no tests']} no tests, score {score:.1f}%"
    )
    return 0


def _in_scope(key: str, table: dict[str, Counter[str]]) -> bool:
    function = key.partition(":")[0]
    return any(function.startswith(module + ".") for module in table)


def _row(name: str, counts: Counter[str], width: int) -> str:
    size = sum(counts[c] for c in COLUMNS)
    counted = size - counts["equivalent"]
    score = 100.0 * (counts["killed"] + counts["timeout"]) / counted if counted else 100.0
    cells = "  ".join(f"{counts[c]:>10}" for c in COLUMNS)
    return f"{name:<{width}}  {size:>7}  {cells}  {score:>5.1f}%"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
