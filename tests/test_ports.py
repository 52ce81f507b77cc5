"""Port checks: a listening port is taken, one left in TIME_WAIT is free."""

import os
import socket

from dwwx import ports
from tests.services import free_port


def test_a_listening_port_is_taken_and_its_owner_named():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        assert not ports.is_free(port)
        assert ports.owner_of(port) == os.getpid()


def test_a_port_whose_server_stopped_is_free_despite_time_wait():
    port = free_port()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    # The side that closes first keeps the port in TIME_WAIT.
    accepted.close()
    server.close()
    client.close()

    assert ports.is_free(port)
    assert ports.owner_of(port) is None
