"""The two ways the web saves a sign-up: straight to SQL, or as an event on NATS."""

import asyncio
import contextlib
import logging

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NoStreamResponseError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from src_apps.shared import queue
from src_apps.shared.database import insert_prospects
from src_apps.shared.messages import MSG_ID_HEADER, SUBJECT, ProspectSignedUp
from src_apps.shared.settings import QueueSettings

log = logging.getLogger(__name__)

CONNECTION_NAME = "signup-web"


class SaveUnavailableError(RuntimeError):
    """The sign-up could not be saved or published right now; the user may retry."""


class DatabaseSaver:
    """Save each sign-up in the request, the workshop's v1-v3 monolith."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, event: ProspectSignedUp) -> None:
        """Insert the prospect; raise SaveUnavailableError when the database fails."""
        try:
            with self.engine.begin() as conn:
                ids = insert_prospects(conn, [event])
        except SQLAlchemyError as exc:
            raise SaveUnavailableError(f"database error: {_first_line(exc)}") from exc
        new_id = ids.get(str(event.event_id))
        if new_id is None:
            log.info(
                "prospect already saved event_id=%s email=%s; the form was sent again",
                event.event_id,
                event.prospect.email_address,
            )
            return
        log.info("prospect saved id=%s email=%s", new_id, event.prospect.email_address)


class QueuePublisher:
    """Publish sign-ups to JetStream over one long-lived, self-healing connection."""

    def __init__(self, settings: QueueSettings, *, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Say whether the queue is reachable right now."""
        return (
            self._js is not None
            and self._client is not None
            and (self._client.is_connected)
        )

    def start(self) -> None:
        """Connect in the background, so the web serves while the queue is away."""
        self._task = asyncio.create_task(self._connect(), name="connect-to-queue")

    async def stop(self) -> None:
        """Stop connecting, and close the connection after flushing what is pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None and not self._client.is_closed:
            with contextlib.suppress(Exception):
                await self._client.drain()

    async def _connect(self) -> None:
        # queue.connect retries for ever until the first connection succeeds.
        client = await queue.connect(self.settings, name=CONNECTION_NAME)
        self._client = client
        log.info("connected to the queue at %s", self.settings.nats_url)
        js = client.jetstream()
        while True:
            try:
                await queue.ensure_stream(js)
                break
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("could not declare the stream yet (%r); retrying", exc)
                await asyncio.sleep(1)
        self._js = js

    async def publish(self, event: ProspectSignedUp) -> None:
        """Publish the event and wait until JetStream acknowledged storing it."""
        if self._js is None or self._client is None:
            raise SaveUnavailableError(
                f"not connected to the queue at {self.settings.nats_url} yet"
            )
        if not self._client.is_connected:
            raise SaveUnavailableError(
                f"connection to the queue at {self.settings.nats_url} is down"
            )
        try:
            ack = await self._publish(self._js, event)
        except NoStreamResponseError:
            # The server came back without its store: declare the stream again.
            try:
                await queue.ensure_stream(self._js)
                ack = await self._publish(self._js, event)
            except (nats.errors.Error, TimeoutError) as exc:
                raise SaveUnavailableError(f"no stream to publish to: {exc!r}") from exc
        except TimeoutError as exc:
            # The server may still store it; the form's retry has the same id.
            raise SaveUnavailableError(
                f"no acknowledgement from the queue at {self.settings.nats_url} "
                f"within {self.timeout:g} s"
            ) from exc
        except nats.errors.Error as exc:
            raise SaveUnavailableError(f"publish failed: {exc!r}") from exc
        if ack.duplicate:
            log.info(
                "prospect sign-up already published event_id=%s email=%s; "
                "the form was sent again",
                event.event_id,
                event.prospect.email_address,
            )
            return
        log.info(
            "prospect sign-up published event_id=%s email=%s",
            event.event_id,
            event.prospect.email_address,
        )
        log.debug("stored as %s sequence %d", ack.stream, ack.seq)

    async def _publish(self, js: JetStreamContext, event: ProspectSignedUp) -> PubAck:
        return await js.publish(
            SUBJECT,
            event.to_bytes(),
            timeout=self.timeout,
            headers={MSG_ID_HEADER: str(event.event_id)},
        )


def database_answers(engine: Engine) -> None:
    """Run SELECT 1, raising when the database does not answer."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
