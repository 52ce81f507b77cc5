"""Build dwwx's own images."""

from typing import Annotated

import typer

import dwwx
from dwwx.commands import app_context
from dwwx.errors import DwwxError
from dwwx.images import build_images
from dwwx.settings import Settings


def build(
    ctx: typer.Context,
    images: Annotated[
        list[str] | None,
        typer.Argument(
            help="signup-web, save-handler, reference-data-api, "
            "homepage, reverse-proxy; none: all"
        ),
    ] = None,
    tag: Annotated[str, typer.Option(help="tag besides latest")] = dwwx.__version__,
    no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
    base_image: Annotated[
        list[str] | None,
        typer.Option(help="IMAGE for the app images, or caddy=IMAGE for the proxy"),
    ] = None,
    network: Annotated[
        str | None, typer.Option(help="build network, e.g. host")
    ] = None,
) -> None:
    """Build the images, all or the ones named; with --db mssql, for SQL Server."""
    app = app_context(ctx)
    bases = base_images_from(app.settings, base_image or [])

    tags = build_images(
        images or None,
        tag=tag,
        no_cache=no_cache,
        base_images=bases,
        network=network or app.settings.build_network,
        mssql=app.settings.db == "mssql",
        registry=app.settings.image_registry,
        progress=app.console,
    )

    app.console.print(f"[green]built {len(tags)} tags[/]")


def base_images_from(settings: Settings, options: list[str]) -> dict[str, str]:
    """Merge the base-image settings with --base-image options."""
    bases = {
        kind: image
        for kind, image in (
            ("python", settings.python_base_image),
            ("caddy", settings.caddy_base_image),
        )
        if image
    }
    for option in options:
        kind, sep, image = option.partition("=")
        if not sep:
            kind, image = "python", option
        if kind not in ("python", "caddy") or not image:
            raise DwwxError(
                f"bad --base-image {option!r}; write IMAGE or caddy=IMAGE", exit_code=2
            )
        bases[kind] = image
    return bases
