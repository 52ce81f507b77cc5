"""Let a service's start-up wait end when it is asked to stop.

uvicorn acts on SIGTERM only once the lifespan's start-up is over, so a web
that waits for its database would hold `supervisorctl stop` (and `dwwx down`)
for as long as it waits.
"""

import signal
import threading
from types import FrameType


class StoppedError(RuntimeError):
    """The service was asked to stop while it was still starting."""


def stop_requested() -> threading.Event:
    """Return an event that SIGTERM and SIGINT set, besides what they did before.

    Call it from the lifespan, after uvicorn installed its handlers, which keep
    running. Off the main thread (an in-process test client) signals cannot be
    caught, and the event is never set.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return event
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(
            received: int, frame: FrameType | None, previous: object = previous
        ) -> None:
            event.set()
            if callable(previous):
                previous(received, frame)

        signal.signal(signum, handler)
    return event
