"""Sign up from the command line, through the real form."""

from typing import Annotated

import typer

from dwwx.commands import app_context
from dwwx.errors import DwwxError
from dwwx.runtimes import open_runtime
from dwwx.signup import generated_prospect, sign_up_many


def signup(
    ctx: typer.Context,
    first_name: Annotated[str, typer.Option()] = "Ada",
    last_name: Annotated[str, typer.Option()] = "Lovelace",
    company: Annotated[str, typer.Option()] = "Analytical Engines",
    email: Annotated[str, typer.Option()] = "ada@example.com",
    role: Annotated[str, typer.Option(help="role code, like DA or EN")] = "EN",
    country: Annotated[str, typer.Option(help="country code, like GBR")] = "GBR",
    count: Annotated[
        int | None, typer.Option(min=1, help="submit N generated prospects instead")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 8,
    url: Annotated[
        str | None, typer.Option(help="the sign-up app's URL; default: the running one")
    ] = None,
) -> None:
    """Submit the sign-up form as a browser would; report what was accepted."""
    app = app_context(ctx)
    app_url = url or _running_app_url(ctx)
    if count:
        prospects = [generated_prospect(number) for number in range(1, count + 1)]
    else:
        prospects = [
            {
                "first_name": first_name,
                "last_name": last_name,
                "company_name": company,
                "email_address": email,
                "role_code": role,
                "country_code": country,
            }
        ]

    summary = sign_up_many(app_url, prospects, concurrency=concurrency)

    for outcome in summary.outcomes:
        if not outcome.accepted:
            detail = "; ".join(outcome.messages) or "no message"
            app.console.print(
                f"[red]{outcome.email}: HTTP {outcome.status}[/] {detail}"
            )
    p50 = summary.latency_percentile(0.5) * 1000
    p95 = summary.latency_percentile(0.95) * 1000
    app.console.print(
        f"accepted {summary.accepted} of {len(summary.outcomes)} sign-ups in "
        f"{summary.seconds:.2f} s (p50 {p50:.0f} ms, p95 {p95:.0f} ms)"
    )
    refused = len(summary.outcomes) - summary.accepted
    if refused:
        raise DwwxError(f"{refused} sign-up{'' if refused == 1 else 's'} refused")


def _running_app_url(ctx: typer.Context) -> str:
    app = app_context(ctx)
    runtime = open_runtime(app.settings, app.state)
    record = runtime.record()
    path = "/" if record.version == "v1" else "/app/"
    return f"http://127.0.0.1:{record.port}{path}"
