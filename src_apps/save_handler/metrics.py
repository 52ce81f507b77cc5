"""Prometheus counters of what the handler did with the messages it received."""

import logging

from prometheus_client import CollectorRegistry, Counter, start_http_server

log = logging.getLogger(__name__)

PREFIX = "signup_save_handler"


class Metrics:
    """The handler's counters, kept in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = self._counter("received", "Messages fetched from the queue")
        self.saved = self._counter("saved", "Prospects newly written to the database")
        self.failed = self._counter("failed", "Messages given back for a later retry")
        self.dead_lettered = self._counter(
            "dead_lettered", "Messages sent to the dead-letter subject"
        )

    def _counter(self, name: str, documentation: str) -> Counter:
        return Counter(f"{PREFIX}_{name}", documentation, registry=self.registry)

    def serve(self, *, host: str, port: int) -> None:
        """Serve the counters over HTTP for Prometheus to scrape."""
        start_http_server(port, addr=host, registry=self.registry)
        log.info("Serving metrics on http://%s:%s/metrics", host, port)
