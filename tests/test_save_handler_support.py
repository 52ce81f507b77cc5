"""Helpers for the save handler tests: the handler as a process, publishing, reading."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerInfo

from src_apps.shared import database, queue
from src_apps.shared.messages import (
    DEAD_LETTER_SUBJECT,
    MSG_ID_HEADER,
    SAVE_HANDLER_CONSUMER,
    STREAM,
    SUBJECT,
    ProspectSignedUp,
)
from tests.prospects import prospect
from tests.services import GaveUpError, wait_for

REPO = Path(__file__).resolve().parents[1]

# Short enough that retries and redeliveries happen within a test's patience.
FAST = {
    "FETCH_TIMEOUT": "0.3",
    "NAK_DELAY_BASE": "0.2",
    "NAK_DELAY_MAX": "1",
    "ACK_WAIT": "2",
    "LOG_LEVEL": "info",
}


def new_event(**changes: str) -> ProspectSignedUp:
    """Return a new sign-up event for a valid prospect, with some fields changed."""
    return ProspectSignedUp.new(prospect(**changes))


class HandlerProcess:
    """A running `python -m src_apps.save_handler`, its output in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.output = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "src_apps.save_handler"],
            cwd=REPO,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def count(self, text: str) -> int:
        return self.log.count(text)

    def wait_for_log(self, text: str, *, times: int = 1, timeout: float = 15) -> None:
        def seen() -> bool:
            if self.process.poll() is not None and self.count(text) < times:
                raise GaveUpError(f"handler exited:\n{self.log}")
            return self.count(text) >= times

        try:
            wait_for(seen, timeout=timeout, what=f"{text!r} in the handler's log")
        except AssertionError:
            print(self.log)
            raise

    def wait_until_listening(self) -> None:
        self.wait_for_log("Listening on subject")

    def stop(self, signum: int = signal.SIGTERM, *, timeout: float = 15) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signum)
        code = self.process.wait(timeout=timeout)
        self.output.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)
        self.output.close()


@pytest.fixture
def start_handler(tmp_path: Path) -> Iterator:
    """Start save handler processes; every one is ended when the test ends."""
    started: list[HandlerProcess] = []

    def start(nats_url: str, database_url: str, **env: str) -> HandlerProcess:
        name = env.pop("HANDLER_NAME", f"handler-{len(started) + 1}")
        full_env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1",
            "NATS_URL": nats_url,
            "DATABASE_URL": database_url,
            "HANDLER_NAME": name,
            **FAST,
            **env,
        }
        handler = HandlerProcess(full_env, tmp_path / f"{name}.log")
        started.append(handler)
        return handler

    yield start
    for handler in started:
        handler.kill()


def publish(
    nats_url: str,
    bodies: list[bytes],
    *,
    msg_ids: list[str | None] | None = None,
) -> None:
    """Publish raw bodies on the sign-up subject, each awaited until stored."""
    ids = msg_ids or [str(uuid.uuid4()) for _ in bodies]
    asyncio.run(_publish(nats_url, bodies, ids))


async def _publish(nats_url: str, bodies: list[bytes], ids: list[str | None]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await queue.ensure_stream(js)
        for body, msg_id in zip(bodies, ids, strict=True):
            headers = {MSG_ID_HEADER: msg_id} if msg_id else None
            await js.publish(SUBJECT, body, headers=headers)
    finally:
        await nc.close()


def publish_events(nats_url: str, events: list[ProspectSignedUp]) -> None:
    """Publish events as the web does, with the event id as the message id."""
    publish(
        nats_url,
        [event.to_bytes() for event in events],
        msg_ids=[str(event.event_id) for event in events],
    )


def dead_letters(nats_url: str, count: int) -> list[Msg]:
    """Read the first dead letters stored in the stream."""
    return asyncio.run(_dead_letters(nats_url, count))


async def _dead_letters(nats_url: str, count: int) -> list[Msg]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(DEAD_LETTER_SUBJECT, stream=STREAM)
        found: list[Msg] = []
        while len(found) < count:
            found += await sub.fetch(count - len(found), timeout=5)
        return found
    finally:
        await nc.close()


def consumer_info(nats_url: str) -> ConsumerInfo:
    """Return what the server knows about the save handlers' consumer."""
    return asyncio.run(_consumer_info(nats_url))


async def _consumer_info(nats_url: str) -> ConsumerInfo:
    nc = await nats.connect(nats_url)
    try:
        return await nc.jetstream().consumer_info(STREAM, SAVE_HANDLER_CONSUMER)
    finally:
        await nc.close()


def saved_event_ids(database_url: str) -> list[str]:
    """Return the event id of every saved prospect, duplicates included."""
    engine = database.make_engine(database_url)
    try:
        with engine.connect() as conn:
            return [row["event_id"] for row in database.list_prospects(conn)]
    finally:
        engine.dispose()


def wait_until_saved(database_url: str, events: list[ProspectSignedUp]) -> None:
    """Wait until every event has a row."""
    wanted = {str(event.event_id) for event in events}
    wait_for(
        lambda: wanted <= set(saved_event_ids(database_url)),
        timeout=20,
        what=f"{len(wanted)} prospects in the database",
    )
