"""The CLI's commands, one module per group; each calls one function of the core."""

from dataclasses import dataclass

import typer
from rich.console import Console

from dwwx.settings import Settings
from dwwx.state import StateDir


@dataclass
class AppContext:
    """What every command gets from the global options."""

    settings: Settings
    state: StateDir
    console: Console


def app_context(ctx: typer.Context) -> AppContext:
    """Return the context the main callback stored."""
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj
