"""Empty the queue into the database before a version without the save handler.

A downgrade from v4 would otherwise leave the sign-ups still in the stream out
of the database until the handler came back.
"""

import json
import logging
import time
from collections.abc import Callable

from dwwx import catalogue
from dwwx.catalogue import Service
from dwwx.errors import DwwxError
from dwwx.state import Record
from src_apps.shared.messages import SAVE_HANDLER_CONSUMER, STREAM

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


def drops_the_handler(previous: Record | None, services: list[Service]) -> bool:
    """Say whether moving from what runs to these services removes the handler."""
    if previous is None:
        return False
    had = catalogue.HANDLER in catalogue.SERVICES_BY_VERSION[previous.version]
    return had and catalogue.HANDLER not in {service.name for service in services}


def consumers_url(monitor_port: int) -> str:
    """Return nats-server's monitoring URL that reports every consumer."""
    return f"http://127.0.0.1:{monitor_port}/jsz?consumers=true"


def unsaved_sign_ups(report: str) -> int | None:
    """Count what the save handler has not acked yet, from a /jsz report.

    None when the report cannot be read. Without the consumer, nothing waits.
    """
    try:
        body = json.loads(report)
    except ValueError:
        return None
    for account in body.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            for consumer in stream.get("consumer_detail") or []:
                if (stream["name"], consumer["name"]) == (
                    STREAM,
                    SAVE_HANDLER_CONSUMER,
                ):
                    return int(consumer["num_pending"] + consumer["num_ack_pending"])
    return 0


def drain_queue(
    *,
    stop_web: Callable[[], object],
    start_web: Callable[[], object],
    read_report: Callable[[], str | None],
    timeout: float,
) -> None:
    """Stop taking sign-ups, then wait until the handler saved every one.

    When it cannot within the timeout, the web takes sign-ups again and the
    running version stays.
    """
    stop_web()
    try:
        wait_until_drained(read_report, timeout=timeout)
    except DwwxError:
        start_web()
        raise


def wait_until_drained(
    read_report: Callable[[], str | None], *, timeout: float
) -> None:
    """Poll the queue until every sign-up is saved, or raise saying how many wait."""
    deadline = time.monotonic() + timeout
    while True:
        report = read_report()
        waiting = None if report is None else unsaved_sign_ups(report)
        if waiting == 0:
            log.debug("queue drained")
            return
        if time.monotonic() > deadline:
            count = "an unknown number of" if waiting is None else str(waiting)
            raise DwwxError(
                f"{count} sign-ups are still waiting for the save handler after "
                f"{timeout:.0f} s, so the running version stays; see "
                "`dwwx logs handler`, then try again"
            )
        time.sleep(POLL_SECONDS)
