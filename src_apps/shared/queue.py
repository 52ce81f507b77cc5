"""Connecting to NATS and declaring the SIGNUPS stream, from either side."""

import logging
from datetime import timedelta

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError

from src_apps.shared.messages import STREAM, STREAM_SUBJECTS
from src_apps.shared.settings import QueueSettings

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(minutes=10)
ACK_WAIT_SECONDS = 30.0
MAX_DELIVER = -1  # never give up on a sign-up; poison is dead-lettered explicitly


async def connect(settings: QueueSettings, *, name: str) -> Client:
    """Open a long-lived connection that reconnects for ever."""
    password = (
        settings.nats_password.get_secret_value() if settings.nats_password else None
    )

    async def on_disconnect() -> None:
        log.warning("disconnected from the queue at %s", settings.nats_url)

    async def on_reconnect() -> None:
        log.info("reconnected to the queue at %s", settings.nats_url)

    async def on_error(exc: Exception) -> None:
        log.warning("queue connection error: %s", exc)

    return await nats.connect(
        settings.nats_url,
        name=name,
        user=settings.nats_user,
        password=password,
        connect_timeout=settings.nats_connect_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        allow_reconnect=True,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
    )


def stream_config() -> StreamConfig:
    """The SIGNUPS stream: limits retention on file storage, deduplicated by id."""
    return StreamConfig(
        name=STREAM,
        subjects=STREAM_SUBJECTS,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
    )


async def ensure_stream(js: JetStreamContext) -> None:
    """Create the stream, or bring an existing one to the expected config."""
    config = stream_config()
    try:
        await js.add_stream(config)
    except BadRequestError:
        # Already there with another config (an older version of dwwx, say).
        await js.update_stream(config)


def consumer_config(durable: str, *, filter_subject: str) -> ConsumerConfig:
    """A durable pull consumer shared by every copy of one kind of handler."""
    return ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_SECONDS,
        max_deliver=MAX_DELIVER,
        filter_subject=filter_subject,
    )


async def ensure_consumer(
    js: JetStreamContext, durable: str, *, filter_subject: str
) -> None:
    """Create the durable consumer if it is not there yet."""
    await js.add_consumer(
        STREAM, consumer_config(durable, filter_subject=filter_subject)
    )
