"""Find out whether a TCP port is free, and which process holds it if not."""

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Collection
from pathlib import Path

from dwwx.errors import DwwxError


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when nothing listens on the port."""
    with socket.socket() as sock:
        # As servers do, so that connections of a stopped server lingering in
        # TIME_WAIT don't count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def owner_of(port: int) -> int | None:
    """Return the pid listening on a port, when the system lets us know it."""
    if Path("/proc/net/tcp").exists():
        return _owner_from_proc(port)
    lsof = shutil.which("lsof")
    if lsof is None:
        return None
    result = subprocess.run(
        [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-t"],
        capture_output=True,
        text=True,
        check=False,
    )
    first = result.stdout.split()
    return int(first[0]) if first else None


def _owner_from_proc(port: int) -> int | None:
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name)
    return None


def _listening_inodes(port: int) -> set[str]:
    listen_state = "0A"
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == listen_state:
                    found.add(f"socket:[{fields[9]}]")
    return found


def held_by(port: int, pids: Collection[int], *, names: Collection[str] = ()) -> bool:
    """Return True when a port's holder is one of pids, a child of one, or named so.

    Names cover a holder that is no process of ours, like Docker's docker-proxy
    publishing a container's port on the bridge network.
    """
    pid = owner_of(port)
    if pid is not None and names and process_name(pid) in names:
        return True
    seen: set[int] = set()
    while pid is not None and pid > 1 and pid not in seen:
        if pid in pids:
            return True
        seen.add(pid)
        pid = parent_of(pid)
    return False


def parent_of(pid: int) -> int | None:
    """Return a process's parent pid, or None when it cannot be read."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            # The name in brackets may hold spaces; the fields after it do not.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return int(fields[1])
    ps = shutil.which("ps")
    if ps is None:
        return None
    result = subprocess.run(
        [ps, "-o", "ppid=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    text = result.stdout.strip()
    return int(text) if text.isdigit() else None


def process_name(pid: int) -> str | None:
    """Return a process's short name, or None when it cannot be read."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        pass
    ps = shutil.which("ps")
    if ps is None:
        return None
    result = subprocess.run(
        [ps, "-o", "comm=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return Path(result.stdout.strip()).name or None


def describe_owner(port: int) -> str:
    """Name the process holding a port, for an error message."""
    pid = owner_of(port)
    if pid is None:
        return f"port {port} is taken"
    name = process_name(pid)
    if name is None:
        return f"port {port} is taken by pid {pid}"
    return f"port {port} is taken by {name} (pid {pid})"


def require_free(port: int, *, needed_by: str, entry_port: int, ours: set[int]) -> None:
    """Raise naming the holder, unless the port is free or one of ours holds it."""
    if is_free(port) or held_by(port, ours):
        return
    option = "--port" if port == entry_port else "DWWX_PORT"
    raise DwwxError(
        f"{describe_owner(port)}, needed by {needed_by}; "
        f"stop it or pass {option} to move dwwx's ports"
    )
