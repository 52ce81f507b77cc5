"""Bring the workshop up, scale the save handler, bring it down."""

from typing import Annotated

import typer

from dwwx import catalogue
from dwwx.commands import app_context
from dwwx.runtimes import open_runtime


def up(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="manifest version: v1, v2, v3 or v4")],
    scale: Annotated[
        list[str] | None,
        typer.Option(help="copies of a service, like save-handler=3; repeatable"),
    ] = None,
) -> None:
    """Start a manifest version, or upgrade the running one in place."""
    app = app_context(ctx)
    catalogue.check_version(version)
    wanted = catalogue.parse_scale(scale or [])
    catalogue.check_scale(version, wanted)
    runtime = open_runtime(app.settings, app.state)
    record = app.state.load()
    if record and not wanted and record.version == version:
        wanted = record.scale

    with app.console.status(f"Bringing up {version} on the {runtime.name} runtime"):
        url = runtime.up(version, scale=wanted)

    app.console.print(f"[green]{version} is up[/] on the {runtime.name} runtime: {url}")


def scale(
    ctx: typer.Context,
    spec: Annotated[str, typer.Argument(help="SERVICE=N, like save-handler=3")],
) -> None:
    """Change the number of save handler copies of the running version."""
    app = app_context(ctx)
    wanted = catalogue.parse_scale([spec])
    runtime = open_runtime(app.settings, app.state)
    record = runtime.record()
    catalogue.check_scale(record.version, wanted)

    with app.console.status(f"Scaling {spec}"):
        runtime.up(record.version, scale=record.scale | wanted)

    for service, count in wanted.items():
        copies = "copy" if count == 1 else "copies"
        app.console.print(f"[green]{service}[/] runs {count} {copies}")


def down(
    ctx: typer.Context,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="also delete the database and queue data")
    ] = False,
) -> None:
    """Stop every service of the project."""
    app = app_context(ctx)
    runtime = open_runtime(app.settings, app.state)

    with app.console.status("Stopping"):
        stopped = runtime.down(volumes=volumes)

    said = "stopped" if stopped else "nothing was running"
    extra = "; data deleted" if volumes else ""
    app.console.print(f"[green]{said}[/]{extra}")
