"""The fetch loop: take sign-up events off the queue, save them, then ack."""

import asyncio
import contextlib
import logging
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Engine

from src_apps.save_handler import health, store
from src_apps.save_handler.metrics import Metrics
from src_apps.save_handler.settings import HandlerSettings
from src_apps.shared import queue
from src_apps.shared.database import TRANSIENT_ERRORS, prepare_database
from src_apps.shared.messages import (
    DEAD_LETTER_SUBJECT,
    DEAD_REASON_HEADER,
    MSG_ID_HEADER,
    SAVE_HANDLER_CONSUMER,
    STREAM,
    SUBJECT,
    PoisonMessageError,
    ProspectSignedUp,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

APP_NAME = "signup-save-handler"
ORIGINAL_HEADER = "Dwwx-Original-"
# Header values are one line of ASCII; a reason longer than this is cut.
MAX_REASON_CHARS = 500
# Idle time after which the handler asks the server whether it is missing out.
STALL_CHECK_SECONDS = 5.0
RETRY_SECONDS = 1.0
# Reference data rarely changes; re-read it at most this often for an unknown code.
CODES_REFRESH_SECONDS = 30.0
CLOSE_FLUSH_SECONDS = 5
QUEUE_ERRORS = (nats.errors.Error, TimeoutError)


class SaveHandler:
    """One copy of the save handler, sharing the durable consumer with the rest."""

    def __init__(
        self, settings: HandlerSettings, engine: Engine, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.stopping = asyncio.Event()
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.sub: JetStreamContext.PullSubscription | None = None
        self.codes = store.ReferenceCodes(roles=set(), countries=set())
        self.codes_read_at = 0.0
        self.seen_reconnects = 0
        self.idle_since = time.monotonic()

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand and leave."""
        if not self.stopping.is_set():
            log.info("Stopping: finishing the batch in hand")
        self.stopping.set()

    async def run(self) -> None:
        """Start up, then save what arrives until asked to stop."""
        if not await self.start():
            return
        try:
            while not self.stopping.is_set():
                await self.turn()
        finally:
            await self.close()

    async def start(self) -> bool:
        """Connect, prepare the database and subscribe; False if stopped meanwhile."""
        log.info("Connecting to message queue url: %s", self.settings.nats_url)
        self.nc = await self.until_ready(self.connect, "message queue")
        if self.nc is None:
            return False
        self.js = self.nc.jetstream()

        ready = await self.until_ready(self.prepare_database, "database")
        if ready is None:
            return False

        subscribed = await self.until_ready(self.subscribe, "consumer")
        if subscribed is None:
            return False
        log.info(
            "Listening on subject: %s, consumer: %s", SUBJECT, SAVE_HANDLER_CONSUMER
        )
        return True

    async def until_ready(
        self, step: Callable[[], Awaitable[T]], what: str
    ) -> T | None:
        """Retry a start-up step until it works, so start-up order never matters."""
        while not self.stopping.is_set():
            try:
                return await self.unless_stopped(step())
            except (*QUEUE_ERRORS, *TRANSIENT_ERRORS, OSError) as exc:
                log.info("%s not ready yet (%s); retrying", what, store.first_line(exc))
                await self.pause(RETRY_SECONDS)
        return None

    async def unless_stopped(self, work: Awaitable[T]) -> T | None:
        """Await work, abandoning it when asked to stop: start-up may wait for ever."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self.stopping.wait())
        done, _ = await asyncio.wait({task, stop}, return_when=FIRST_COMPLETED)
        if task in done:
            stop.cancel()
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return None

    async def connect(self) -> Client:
        """Open the long-lived queue connection."""
        name = f"{APP_NAME} {self.settings.handler_name}"
        return await queue.connect(self.settings, name=name)

    async def prepare_database(self) -> bool:
        """Create the tables if need be and read the reference codes."""
        await asyncio.to_thread(prepare_database, self.engine)
        self.codes = await asyncio.to_thread(store.load_codes, self.engine)
        self.codes_read_at = time.monotonic()
        return True

    async def subscribe(self) -> bool:
        """Declare the stream and consumer, then bind a fresh pull subscription."""
        assert self.nc is not None and self.js is not None
        reconnects = self.nc.stats["reconnects"]
        await queue.ensure_stream(self.js)
        config = queue.consumer_config(SAVE_HANDLER_CONSUMER, filter_subject=SUBJECT)
        config.ack_wait = self.settings.ack_wait
        await self.js.add_consumer(STREAM, config)

        old, self.sub = (
            self.sub,
            await self.js.pull_subscribe_bind(SAVE_HANDLER_CONSUMER, stream=STREAM),
        )
        if old is not None:
            await self.unsubscribe(old)
        self.seen_reconnects = reconnects
        self.idle_since = time.monotonic()
        return True

    async def unsubscribe(self, sub: JetStreamContext.PullSubscription) -> None:
        """Drop a stale subscription; it may already be gone with the old server."""
        try:
            await sub.unsubscribe()
        except (*QUEUE_ERRORS, ValueError) as exc:
            log.debug("old subscription already gone: %s", exc)

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def turn(self) -> None:
        """Run one fetch-and-save round of the loop."""
        if await self.recover_if_needed():
            messages = await self.fetch()
            if messages:
                await self.handle_batch(messages)
        if self.settings.health_file is not None:
            health.touch(self.settings.health_file)

    async def recover_if_needed(self) -> bool:
        """Re-create the subscription when it may be stale; False if that failed."""
        assert self.nc is not None
        if not self.nc.is_connected:
            await self.pause(min(self.settings.fetch_timeout, RETRY_SECONDS))
            return False
        # nats.py pull subscriptions can stall after the server restarts, and a
        # restarted server may have lost the consumer: start afresh each time.
        if self.nc.stats["reconnects"] == self.seen_reconnects:
            return True
        log.info(
            "Reconnected: re-creating the subscription to %s", SAVE_HANDLER_CONSUMER
        )
        try:
            await self.subscribe()
        except QUEUE_ERRORS as exc:
            log.warning("cannot re-create the subscription yet: %s", exc)
            await self.pause(RETRY_SECONDS)
            return False
        return True

    async def fetch(self) -> list[Msg]:
        """Fetch up to a batch; an empty list when nothing came in time."""
        assert self.sub is not None
        try:
            messages = await self.sub.fetch(
                self.settings.batch_size, timeout=self.settings.fetch_timeout
            )
        except TimeoutError:
            await self.check_for_stall()
            return []
        except QUEUE_ERRORS as exc:
            log.warning("fetch failed (%s); re-creating the subscription", exc)
            await self.resubscribe()
            return []
        self.idle_since = time.monotonic()
        return messages

    async def check_for_stall(self) -> None:
        """Re-subscribe when the consumer holds messages this copy never gets."""
        if time.monotonic() - self.idle_since < STALL_CHECK_SECONDS:
            return
        assert self.sub is not None
        self.idle_since = time.monotonic()
        try:
            info = await self.sub.consumer_info()
        except NotFoundError:
            log.warning("consumer %s is gone; creating it again", SAVE_HANDLER_CONSUMER)
            await self.resubscribe()
            return
        except QUEUE_ERRORS as exc:
            log.debug("consumer info unavailable: %s", exc)
            return
        if info.num_pending:
            log.warning(
                "%s messages wait but none arrive; re-creating the subscription",
                info.num_pending,
            )
            await self.resubscribe()

    async def resubscribe(self) -> None:
        """Re-create the subscription, leaving a retry to the next round on failure."""
        try:
            await self.subscribe()
        except QUEUE_ERRORS as exc:
            log.warning("cannot re-create the subscription yet: %s", exc)
            await self.pause(RETRY_SECONDS)

    async def handle_batch(self, messages: list[Msg]) -> None:
        """Dead-letter the poison, save the rest in one go, then ack or nak each."""
        valid: list[tuple[Msg, ProspectSignedUp]] = []
        for msg in messages:
            event = await self.accept(msg)
            if event is not None:
                valid.append((msg, event))
        if not valid:
            return

        events = [event for _, event in valid]
        outcome = await asyncio.to_thread(store.save_batch, self.engine, events)

        for index, (msg, event) in enumerate(valid):
            if index in outcome.saved:
                await self.acknowledge(msg, event, outcome.saved[index])
            elif index in outcome.rejected:
                await self.dead_letter(msg, outcome.rejected[index])
            else:
                await self.give_back(msg, outcome.retry[index])

    async def accept(self, msg: Msg) -> ProspectSignedUp | None:
        """Decode and check one message; dead-letter it and return None if poison."""
        self.metrics.received.inc()
        try:
            event = ProspectSignedUp.from_bytes(msg.data)
        except PoisonMessageError as exc:
            log.info("Received message; event ID: %s", event_id_of(msg))
            await self.dead_letter(msg, str(exc))
            return None

        log.info(
            "Received event ID: %s; email: %s",
            event.event_id,
            event.prospect.email_address,
        )
        checked = await self.check(event)
        if isinstance(checked, str):
            await self.dead_letter(msg, checked)
            return None
        return checked

    async def check(self, event: ProspectSignedUp) -> ProspectSignedUp | str:
        """Return the event to store, or why it can never be stored.

        An unknown code may be one the reference data gained since it was
        read: it is read again, at most every CODES_REFRESH_SECONDS.
        """
        checked, problems = store.check(event, self.codes)
        stale = time.monotonic() - self.codes_read_at >= CODES_REFRESH_SECONDS
        if checked is None and stale and store.unknown_code(problems):
            try:
                self.codes = await asyncio.to_thread(store.load_codes, self.engine)
            except TRANSIENT_ERRORS as exc:
                log.warning("cannot re-read reference data: %s", store.first_line(exc))
            self.codes_read_at = time.monotonic()
            checked, problems = store.check(event, self.codes)
        return checked if checked is not None else store.describe(problems) or ""

    async def acknowledge(
        self, msg: Msg, event: ProspectSignedUp, prospect_id: int | None
    ) -> None:
        """Ack a committed event, logging whether this delivery wrote the row."""
        if prospect_id is None:
            log.info("Prospect already saved; event ID: %s", event.event_id)
        else:
            self.metrics.saved.inc()
            log.info(
                "Prospect saved. Prospect ID: %s; event ID: %s",
                prospect_id,
                event.event_id,
            )
        try:
            await msg.ack()
        except QUEUE_ERRORS as exc:
            # The row is committed: a redelivery finds it and is acked then.
            log.warning("ack failed for event ID %s: %s", event.event_id, exc)

    async def give_back(self, msg: Msg, reason: str) -> None:
        """Nak a message with a delay growing with its deliveries, never dropping it."""
        delay = self.settings.nak_delay(msg.metadata.num_delivered)
        self.metrics.failed.inc()
        log.warning(
            "Save failed, retrying in %.1fs. Event ID: %s; reason: %s",
            delay,
            event_id_of(msg),
            reason,
        )
        try:
            await msg.nak(delay=delay)
        except QUEUE_ERRORS as exc:
            # Without the nak the server redelivers after the ack wait anyway.
            log.warning("nak failed for event ID %s: %s", event_id_of(msg), exc)

    async def dead_letter(self, msg: Msg, reason: str) -> None:
        """Store a message no retry can save on the dead-letter subject, then term."""
        assert self.js is not None
        reason = one_line(reason)
        try:
            await self.js.publish(
                DEAD_LETTER_SUBJECT, msg.data, headers=dead_letter_headers(msg, reason)
            )
        except QUEUE_ERRORS as exc:
            await self.give_back(msg, f"dead letter not stored: {exc}")
            return

        self.metrics.dead_lettered.inc()
        log.warning(
            "Message dead-lettered. Event ID: %s; reason: %s", event_id_of(msg), reason
        )
        try:
            await msg.term()
        except QUEUE_ERRORS as exc:
            # Redelivered, it is dead-lettered again under the same id: deduplicated.
            log.warning("term failed for event ID %s: %s", event_id_of(msg), exc)

    async def close(self) -> None:
        """Make sure the server has every ack sent, then close the connection."""
        if self.nc is None or self.nc.is_closed:
            return
        if self.sub is not None:
            await self.unsubscribe(self.sub)
        # Not drain(): it waits for the pull subscription's queue to be marked
        # done, which fetch() never does, so it would sit out its whole timeout.
        try:
            await self.nc.flush(timeout=CLOSE_FLUSH_SECONDS)
        except QUEUE_ERRORS as exc:
            log.warning("could not flush the last acks: %s", exc)
        await self.nc.close()


def event_id_of(msg: Msg) -> str:
    """Name a message by its event id header, or its stream sequence without one."""
    header = (msg.headers or {}).get(MSG_ID_HEADER)
    return header or f"<none; stream sequence {msg.metadata.sequence.stream}>"


def dead_letter_headers(msg: Msg, reason: str) -> dict[str, str]:
    """Carry the reason and where the message came from; keep it deduplicable."""
    sequence = str(msg.metadata.sequence.stream)
    headers = {
        DEAD_REASON_HEADER: reason,
        # The stream deduplicates by this id: a dead letter sent twice (the term
        # got lost) is stored once. The original id would clash with the event.
        MSG_ID_HEADER: f"dead-{sequence}",
        f"{ORIGINAL_HEADER}Subject": msg.subject,
        f"{ORIGINAL_HEADER}Sequence": sequence,
    }
    original_id = (msg.headers or {}).get(MSG_ID_HEADER)
    if original_id:
        headers[f"{ORIGINAL_HEADER}Msg-Id"] = one_line(original_id)
    return headers


def one_line(text: str) -> str:
    """Make text safe for a header value: one line of printable ASCII, cut short."""
    flat = " ".join(text.split())
    ascii_only = flat.encode("ascii", "backslashreplace").decode("ascii")
    return ascii_only[:MAX_REASON_CHARS]
