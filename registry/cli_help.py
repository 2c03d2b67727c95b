"""How every `registry` command's help reads: plain text (no boxes), paragraphs rewrapped to
the terminal, a placeholder after an option that takes a value instead of a type tag, and
the first sentence as the summary in command lists. Use `RegistryTyper` for every Typer app
of the CLI, so commands added anywhere get the same treatment.

Write a command's docstring as one summary line, a blank line, then paragraphs; put
examples after a line holding only `\\b` (click keeps that paragraph's line breaks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer import _click as click  # Typer builds its commands on its own copy of click
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandFunctionType

CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "max_content_width": 100,
}


def _placeholders(params: list[Any]) -> None:
    """`--port PORT` rather than `--port INTEGER`: name what to give, not its type."""
    for param in params:
        if (
            param.param_type_name == "option"
            and getattr(param, "metavar", None) is None
            and not getattr(param, "is_flag", False)
        ):
            param.metavar = (param.name or "value").upper()


def _argument_name(param: click.Parameter) -> str:
    name = (param.name or "value").upper()
    return name if param.required else f"[{name}]"


class RegistryCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _placeholders(self.params)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_name(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Arguments by name and what they are; options as click writes them."""
        params = self.get_params(ctx)
        arguments = [
            (_argument_name(p), getattr(p, "help", None) or "")
            for p in params
            if p.param_type_name == "argument"
        ]
        options = [
            record
            for p in params
            if p.param_type_name == "option" and (record := p.get_help_record(ctx))
        ]
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


class RegistryGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _placeholders(self.params)


class RegistryTyper(typer.Typer):
    """A Typer app whose commands and groups format their help as described above."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", RegistryGroup)
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        kwargs.setdefault("add_completion", False)
        super().__init__(**kwargs)

    def command(
        self, name: str | None = None, **kwargs: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        kwargs.setdefault("cls", RegistryCommand)
        kwargs["context_settings"] = {**CONTEXT_SETTINGS, **(kwargs.get("context_settings") or {})}
        return super().command(name, **kwargs)
