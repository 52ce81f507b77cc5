"""The `dwwx` command line: parse, call the core, turn failures into one line."""

import logging
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from dwwx import __version__
from dwwx.commands import (
    AppContext,
    build,
    doctor,
    inspect,
    lifecycle,
    manifest,
    signup,
)
from dwwx.errors import DwwxError
from dwwx.settings import load_settings
from dwwx.state import StateDir

app = typer.Typer(
    name="dwwx",
    help="Run the sign-up workshop: from a synchronous SQL save to an event and "
    "a save handler, v1 to v4.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="project state folder [env DWWX_STATE_DIR; default .dwwx]"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="entry port; the others follow it [env DWWX_PORT; 8020]"),
    ] = None,
    runtime: Annotated[
        Literal["auto", "docker", "local"] | None,
        typer.Option(help="docker, local, or auto: docker when an engine answers"),
    ] = None,
    db: Annotated[
        Literal["sqlite", "postgres", "mssql"] | None,
        typer.Option(help="database engine [sqlite locally, postgres on docker]"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Global options, read before every command."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    settings = load_settings(state_dir=state_dir, port=port, runtime=runtime, db=db)
    ctx.obj = AppContext(
        settings=settings,
        state=StateDir(settings.state_dir),
        console=Console(highlight=False),
    )


def version() -> None:
    """Print dwwx's version."""
    print(__version__)


for command in (
    lifecycle.up,
    lifecycle.down,
    lifecycle.scale,
    inspect.ps,
    inspect.logs,
    inspect.verify_db,
    manifest.render,
    build.build,
    signup.signup,
    doctor.doctor,
    version,
):
    app.command(command.__name__.replace("_", "-"))(command)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; expected failures are one red line."""
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app(args=argv, prog_name="dwwx", standalone_mode=False)
    except DwwxError as exc:
        # Messages quote logs and package extras; brackets there are not markup.
        errors.print(f"[red]dwwx: {escape(exc.message)}[/]")
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        errors.print("[red]dwwx: aborted[/]")
        return 130
    except typer.TyperException as exc:
        # Usage errors: a bad option or argument, named by the parser.
        context = getattr(exc, "ctx", None)
        hint = f"; see: {context.command_path} --help" if context else ""
        errors.print(f"[red]dwwx: {exc.format_message().rstrip('.')}{hint}[/]")
        return getattr(exc, "exit_code", 2)
    return 0


def main() -> None:
    """Entry point of the `dwwx` console script."""
    sys.exit(run())
