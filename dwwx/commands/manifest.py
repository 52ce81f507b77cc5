"""Print a rendered manifest without applying it."""

from typing import Annotated, Literal

import typer

from dwwx import catalogue
from dwwx.commands import app_context
from dwwx.manifests import render_manifest


def render(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="manifest version: v1, v2, v3 or v4")],
    runtime: Annotated[
        Literal["docker", "local"],
        typer.Option(help="docker: a compose file; local: a supervisord config"),
    ] = "docker",
    scale: Annotated[
        list[str] | None, typer.Option(help="copies, like save-handler=3")
    ] = None,
) -> None:
    """Print the compose file (or supervisord config) of a manifest version."""
    app = app_context(ctx)
    catalogue.check_version(version)
    text = render_manifest(
        version,
        runtime=runtime,
        settings=app.settings,
        state=app.state,
        scale=catalogue.parse_scale(scale or []),
    )
    app.console.out(text, end="", highlight=False)
