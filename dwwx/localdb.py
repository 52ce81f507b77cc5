"""A PostgreSQL server of the project's own for the local runtime (--db postgres).

The cluster lives in ``<state>/data/postgres``. dwwx creates it once with
``initdb`` (password authentication, the password from the project's secrets)
and supervisord runs ``postgres`` on loopback only, without a Unix socket.
PostgreSQL refuses to run as root, so a root user gets the server run as the
``postgres`` system user that the distributions' packages create.
"""

import glob
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from dwwx.errors import DwwxError

DATABASE = "signup"
USER = "dwwx"
SERVER_USER = "postgres"

INSTALL_HINT = (
    "install PostgreSQL (Debian/Ubuntu: apt install postgresql; macOS: brew install "
    "postgresql@16), set DWWX_POSTGRES_BIN to its bin folder, or use --db sqlite"
)

# Where the usual packages put the server's programs, newest first by name.
_BIN_PATTERNS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/Applications/Postgres.app/Contents/Versions/latest/bin",
)


@dataclass(frozen=True)
class LocalPostgres:
    """Where the server's programs are, where its data goes, and who runs it."""

    bin_dir: Path
    data: Path
    port: int
    run_as: str | None  # a user name when dwwx runs as root, else None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def server_argv(self) -> list[str]:
        """The command supervisord runs: loopback TCP only, no Unix socket."""
        return [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ]

    def answers(self, password: str) -> bool:
        """Return True when the sign-up database accepts a login and a query."""
        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=self.port,
                user=USER,
                password=password,
                dbname=DATABASE,
                connect_timeout=2,
            ) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    @property
    def ready_mark(self) -> Path:
        """Written after the database exists, so a half-made cluster is redone."""
        return self.data.parent / "postgres.ready"

    def is_initialised(self) -> bool:
        return self.ready_mark.exists() and (self.data / "PG_VERSION").exists()

    def initialise(self, password: str) -> None:
        """Create the cluster and the sign-up database once; later calls do nothing."""
        if self.is_initialised():
            return
        if self.run_as is not None:
            self._open_the_way()
        if self.data.exists():
            shutil.rmtree(self.data)  # a half-made cluster from an interrupted run
        self.data.mkdir(mode=0o700)
        # initdb wants an empty data folder, so the password file sits beside it.
        pwfile = self.data.parent / ".postgres-password"
        pwfile.unlink(missing_ok=True)
        pwfile.touch(mode=0o600)
        try:
            pwfile.write_text(password + "\n")
            if self.run_as is not None:
                shutil.chown(self.data, self.run_as)
                shutil.chown(pwfile, self.run_as)
            initdb = [str(self.bin_dir / "initdb"), "-D", str(self.data)]
            initdb += ["-U", USER, f"--pwfile={pwfile}", "-A", "scram-sha-256"]
            initdb += ["-E", "UTF8", "--locale=C", "--no-instructions"]
            self._run(initdb, stdin="", what="initdb")
        finally:
            pwfile.unlink()
        single = [str(self.bin_dir / "postgres"), "--single", "-D", str(self.data)]
        single += ["postgres"]
        self._run(single, stdin=f"CREATE DATABASE {DATABASE};\n", what="postgres")
        self.ready_mark.touch()

    def _open_the_way(self) -> None:
        """Let the server's user pass through the state folder, and check above it.

        The state folder and its data folder get the others' execute bit only:
        the server's user can walk through them but list and read nothing.
        """
        state = self.data.parent.parent
        account = pwd.getpwnam(self.run_as or SERVER_USER)
        for folder in reversed(state.parents):
            _check_can_enter(folder, account)
        for folder in (state, self.data.parent):
            folder.chmod(stat.S_IMODE(folder.stat().st_mode) | stat.S_IXOTH)

    def _run(self, argv: list[str], *, stdin: str, what: str) -> None:
        user = self.run_as
        result = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.data,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
        )
        # Single-user postgres reports a failed statement but still exits 0.
        if result.returncode != 0 or "ERROR:" in result.stdout + result.stderr:
            lines = (result.stderr or result.stdout).strip().splitlines()[-5:]
            detail = "\n".join(f"  {line}" for line in lines)
            raise DwwxError(
                f"{what} failed (exit {result.returncode}) making the local "
                f"PostgreSQL in {self.data}:\n{detail}"
            )


def _check_can_enter(folder: Path, account: pwd.struct_passwd) -> None:
    mode = folder.stat()
    if mode.st_uid == account.pw_uid:
        allowed = bool(mode.st_mode & stat.S_IXUSR)
    elif mode.st_gid == account.pw_gid:
        allowed = bool(mode.st_mode & stat.S_IXGRP)
    else:
        allowed = bool(mode.st_mode & stat.S_IXOTH)
    if not allowed:
        raise DwwxError(
            f"the local PostgreSQL runs as user {account.pw_name}, which cannot "
            f"enter {folder}; pass a --state-dir it can reach, run dwwx as a "
            "normal user, or use --db sqlite"
        )


def find_bin_dir(configured: Path | None) -> Path:
    """Find the folder holding ``postgres`` and ``initdb``, or raise with the fix."""
    if configured is not None:
        if not _has_server(configured):
            raise DwwxError(
                f"DWWX_POSTGRES_BIN={configured} holds no postgres and initdb; "
                "point it at PostgreSQL's bin folder"
            )
        return configured
    candidates = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in _BIN_PATTERNS:
        candidates += [Path(p) for p in sorted(glob.glob(pattern), reverse=True)]
    for folder in candidates:
        if _has_server(folder):
            return folder
    raise DwwxError(f"PostgreSQL's server is not installed; {INSTALL_HINT}")


def _has_server(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in ("postgres", "initdb"))


def server_user() -> str | None:
    """Return the user the server must run as, or None to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise DwwxError(
            "PostgreSQL refuses to run as root and there is no "
            f"{SERVER_USER!r} user to run it as; run dwwx as a normal user, "
            "or use --db sqlite"
        ) from None
    return SERVER_USER


def local_postgres(configured_bin: Path | None, data: Path, port: int) -> LocalPostgres:
    """Describe the project's own server, finding its programs and its user."""
    return LocalPostgres(
        bin_dir=find_bin_dir(configured_bin),
        data=data,
        port=port,
        run_as=server_user(),
    )
