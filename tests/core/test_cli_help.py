"""`registry --help` and every subcommand's help read like a well-kept CLI's: plain text, one
summary line, paragraphs broken only where the terminal width makes them, a placeholder
(not a type tag) after each option that takes a value, and examples where they help."""

from __future__ import annotations

import itertools
import re

import pytest
import typer
from typer.testing import CliRunner

from registry.cli import app

WIDTH = 80
TYPE_TAGS = re.compile(r"<(str|int|bool|float|path)>|\b(TEXT|INTEGER|BOOLEAN|FLOAT|PATH)\b")
WITH_EXAMPLES = ("demo", "serve", "audit", "verify-code", "export", "sync")


def _command_paths() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = [()]

    def walk(group: object, prefix: tuple[str, ...]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            paths.append((*prefix, name))
            walk(command, (*prefix, name))

    walk(root, ())
    return paths


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=WIDTH, prog_name="registry")
    assert result.exit_code == 0, result.output
    return result.output


def _paragraphs(text: str) -> list[list[str]]:
    """The description's paragraphs (indented text between Usage and the first section),
    without example blocks."""
    description = text.split("\n\n", 1)[1]
    description = re.split(r"\n(?:Arguments|Options|Commands):\n", description)[0]
    paragraphs = [block.splitlines() for block in description.strip("\n").split("\n\n")]
    return [p for p in paragraphs if not p[0].strip().startswith("Example")]


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "registry")
def test_help_reads_well(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert text.startswith("Usage: registry")
    assert "╭" not in text, "no boxes"
    assert not TYPE_TAGS.search(text), TYPE_TAGS.search(text)
    paragraphs = _paragraphs(text)
    assert paragraphs, "a summary line"
    summary = paragraphs[0]
    assert len(summary) == 1, f"the summary is one line: {summary}"
    for paragraph in paragraphs:
        for line, following in itertools.pairwise(paragraph):
            next_word = following.split()[0]
            # A break only where the next word would not have fitted.
            assert len(line) + 1 + len(next_word) > WIDTH - 2, f"line break in {line!r}"
    for line in text.split("\nOptions:\n", 1)[-1].splitlines():
        if line.startswith("  -"):
            assert re.match(r"  \S.*?\s{2,}\S", line), f"an option without help: {line!r}"


def test_the_main_commands_have_examples() -> None:
    present = {path[0] for path in _command_paths() if len(path) == 1}
    assert {"demo", "serve", "audit", "verify-code"} <= present
    for name in WITH_EXAMPLES:
        if name in present:  # export and sync are added by other changes
            text = _help((name,))
            assert "Example" in text, name
            assert f"registry {name}" in text.split("Example", 1)[1], name


def test_the_command_list_shows_each_summary_whole() -> None:
    text = _help(())
    commands = text.split("\nCommands:\n", 1)[1]
    assert "..." not in commands
    for name in ("serve", "verify-code", "audit", "demo", "db", "keys"):
        assert re.search(rf"^  {name}\s+\S", commands, flags=re.MULTILINE), name
