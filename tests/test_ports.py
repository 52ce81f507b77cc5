"""Port checks: a listening port is taken, one left in TIME_WAIT is free."""

import os
import socket
import subprocess
import sys

from dwwx import ports
from tests.services import free_port, wait_for


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


def test_a_port_held_by_a_child_counts_as_held_by_its_parent():
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: ports.owner_of(port) == child.pid, timeout=15, what="server")

        assert ports.parent_of(child.pid) == os.getpid()
        assert ports.held_by(port, {os.getpid()})
        assert ports.held_by(port, {child.pid})
        assert not ports.held_by(port, {child.pid + 100_000})
        name = ports.process_name(child.pid)
        assert name and name.startswith("python")
        assert ports.held_by(port, set(), names=[name])
    finally:
        child.terminate()
        child.wait(timeout=15)


def test_a_free_port_is_held_by_nobody():
    assert not ports.held_by(free_port(), {os.getpid()})
