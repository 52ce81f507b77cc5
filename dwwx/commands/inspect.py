"""Look at what runs: processes, logs and the rows in the database."""

import contextlib
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dwwx import catalogue
from dwwx.commands import app_context
from dwwx.errors import DwwxError
from dwwx.runtimes import open_runtime


def ps(ctx: typer.Context) -> None:
    """Show each service's copies, their state, pid, uptime and URL."""
    app = app_context(ctx)
    runtime = open_runtime(app.settings, app.state)
    record = runtime.record()
    rows = runtime.status()

    table = Table(title=f"{record.version} on the {runtime.name} runtime")
    for column in ("service", "state", "pid", "uptime"):
        table.add_column(column, no_wrap=True)
    table.add_column("url", overflow="fold")
    for row in rows:
        colour = "green" if row.state in ("RUNNING", "FILE", "HEALTHY") else "red"
        table.add_row(
            row.name,
            f"[{colour}]{row.state}[/]",
            str(row.pid or ""),
            _duration(row.uptime_seconds),
            row.url or "",
        )
    app.console.print(table)


def logs(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="web, db, api, mq, proxy, handler…")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing")
    ] = False,
    tail: Annotated[
        int | None, typer.Option(min=0, help="only the last N lines of each copy")
    ] = None,
) -> None:
    """Print a service's log; `handler` interleaves every copy with a prefix."""
    app = app_context(ctx)
    name = catalogue.resolve_service(service)
    runtime = open_runtime(app.settings, app.state)

    with contextlib.suppress(KeyboardInterrupt):
        runtime.logs([name], follow=follow, tail=tail, console=app.console)


def verify_db(
    ctx: typer.Context,
    email: Annotated[
        str | None, typer.Option(help="exit 1 unless this sign-up is in the table")
    ] = None,
    odbc: Annotated[
        bool,
        typer.Option("--odbc", help="query from the host through pyodbc (docker)"),
    ] = False,
) -> None:
    """Run the workshop's `SELECT * FROM Prospects` and show the rows."""
    app = app_context(ctx)
    runtime = open_runtime(app.settings, app.state)
    result = runtime.query_prospects(odbc=odbc)

    table = Table(title=f"SELECT * FROM Prospects — {len(result.rows)} rows")
    for column in result.columns:
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(*(escape(cell) for cell in row))
    app.console.print(table)

    if email is not None:
        column = result.columns.index("email_address")
        if not any(row[column] == email for row in result.rows):
            raise DwwxError(f"no sign-up for {email} in the database")
        app.console.print(f"[green]found[/] {email}")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
