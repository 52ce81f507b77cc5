"""Making the local runtime's PostgreSQL cluster: once, with the project's password."""

import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dwwx.errors import DwwxError
from dwwx.localdb import LocalPostgres, find_bin_dir, server_user
from tests.services import free_port, need, wait_for


@pytest.fixture
def base() -> Iterator[Path]:
    """A state-like folder the server's user can enter when tests run as root."""
    folder = Path(tempfile.mkdtemp(prefix="dwwx-localdb-"))
    folder.chmod(0o755)
    (folder / "data").mkdir(mode=0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(base: Path) -> LocalPostgres:
    try:
        bin_dir = find_bin_dir(None)
    except DwwxError as exc:
        need("PostgreSQL's server programs", str(exc))
    return LocalPostgres(
        bin_dir, base / "data" / "postgres", free_port(), server_user()
    )


def test_the_server_listens_on_loopback_tcp_only(server):
    argv = server.server_argv()

    assert argv[0] == str(server.bin_dir / "postgres")
    assert ["-p", str(server.port)] == argv[3:5]
    assert "listen_addresses=127.0.0.1" in argv
    assert "unix_socket_directories=" in argv
    assert server.url == f"postgresql+psycopg://dwwx@127.0.0.1:{server.port}/signup"


def test_a_cluster_is_made_once_and_a_half_made_one_again(server, base):
    server.data.mkdir()
    (server.data / "left-over").write_text("from an interrupted run")

    server.initialise("s3cret-password")

    assert server.is_initialised()
    assert not (server.data / "left-over").exists()
    assert not (base / "data" / ".postgres-password").exists()
    version = (server.data / "PG_VERSION").stat().st_mtime_ns
    server.initialise("another-password")
    assert (server.data / "PG_VERSION").stat().st_mtime_ns == version


def test_the_made_cluster_takes_the_password_and_holds_the_database(server):
    server.initialise("s3cret-password")
    argv = server.server_argv()
    # As supervisord does: the user's own group, and no supplementary groups.
    group = pwd.getpwnam(server.run_as).pw_gid if server.run_as else None
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=server.run_as,
        group=group,
        extra_groups=[] if server.run_as else None,
        cwd=server.data,
    )
    try:
        wait_for(lambda: server.answers("s3cret-password"), timeout=30, what="login")
        assert not server.answers("wrong-password")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(
                host="127.0.0.1",
                port=server.port,
                user="dwwx",
                password="wrong",
                dbname="signup",
            )
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_bin_folder_without_the_server_is_refused(tmp_path):
    with pytest.raises(DwwxError, match="holds no postgres and initdb"):
        find_bin_dir(tmp_path)
