"""Report what this machine has for each runtime, with a fix for what it lacks."""

import typer
from rich.markup import escape
from rich.table import Table

from dwwx.commands import app_context
from dwwx.doctor import examine

COLOURS = {"ok": "green", "missing": "red", "optional": "yellow"}


def doctor(ctx: typer.Context) -> None:
    """Check Docker, compose, buildx, ports, ODBC and the local runtime's tools."""
    app = app_context(ctx)
    findings = examine(app.settings, app.state)

    table = Table(title="What dwwx found on this machine")
    for column in ("check", "status", "found", "fix"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        colour = COLOURS[finding.outcome]
        table.add_row(
            finding.name,
            f"[{colour}]{finding.outcome}[/]",
            escape(finding.detail),
            escape(finding.fix),
        )
    app.console.print(table)
