"""Helpers the web tests share: settings, form scraping, a real web process.

This module holds no tests of its own.
"""

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
from fastapi.testclient import TestClient
from nats.js.api import RawStreamMsg
from sqlalchemy import func, select

from src_apps.shared import database
from src_apps.shared.messages import STREAM
from src_apps.web.app import create_app
from src_apps.web.settings import WebSettings
from tests.services import free_port, wait_for

SECRET = "a-test-secret-that-is-long-enough"


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')


def web_settings(**overrides: Any) -> WebSettings:
    """Return web settings for a test, with a valid secret key."""
    return WebSettings(secret_key=SECRET, **overrides)


def async_client(nats_url: str, sqlite_url: str, **overrides: Any) -> TestClient:
    """Return a test client of the web publishing to this queue (v4)."""
    settings = web_settings(
        save_mode="async", nats_url=nats_url, database_url=sqlite_url, **overrides
    )
    return TestClient(create_app(settings), follow_redirects=False)


def csrf_token(html: str) -> str:
    """Return the CSRF token hidden in a rendered form."""
    found = _TOKEN.search(html)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def hidden_fields(html: str) -> dict[str, str]:
    """Return the hidden fields of a rendered form, as a browser would post them."""
    return dict(_HIDDEN.findall(html))


def options(html: str, name: str) -> list[tuple[str, str]]:
    """Return the (value, label) pairs of one select element, in order."""
    found = re.search(rf'<select id="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no select named {name}"
    return _OPTION.findall(found.group(1))


def count_prospects(url: str) -> int:
    """Count the rows in the prospects table of a database."""
    engine = database.make_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(select(func.count()).select_from(database.prospects))
            )
    finally:
        engine.dispose()


def stored_prospects(url: str) -> list[dict[str, Any]]:
    """Return every stored prospect of a database."""
    engine = database.make_engine(url)
    try:
        with engine.connect() as conn:
            return database.list_prospects(conn)
    finally:
        engine.dispose()


def sign_up(client: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    """Open the form, then post the fields with the hidden ones the form carried."""
    form = client.get(path)
    assert form.status_code == 200
    return client.post(path, data={**fields, **hidden_fields(form.text)})


def stream_sign_ups(url: str) -> list[RawStreamMsg]:
    """Read every event the SIGNUPS stream holds, oldest first."""

    async def read() -> list[RawStreamMsg]:
        client = await nats.connect(url)
        try:
            js = client.jetstream()
            state = (await js.stream_info(STREAM)).state
            if not state.messages:
                return []
            seqs = range(state.first_seq, state.last_seq + 1)
            return [await js.get_msg(STREAM, seq) for seq in seqs]
        finally:
            await client.close()

    return asyncio.run(read())


class WebProcess:
    """A real ``python -m <module>`` process on a free loopback port."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        log_path: Path,
        *,
        cwd: Path | None = None,
    ) -> None:
        self.module = module
        self.cwd = cwd
        self.port = int(env.get("PORT") or free_port())
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def wait_until_healthy(self, path: str = "/healthz", timeout: float = 30) -> None:
        """Wait until the path answers 200; fail at once if the process exits."""

        def ready() -> bool:
            if self.exited():
                return True
            return httpx.get(self.url + path, timeout=2).status_code == 200

        wait_for(ready, timeout=timeout, what=f"{self.module} to be healthy")
        assert not self.exited(), f"{self.module} exited early:\n{self.log()}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextlib.contextmanager
def running(
    module: str, env: dict[str, str], log_path: Path, *, cwd: Path | None = None
) -> Iterator[WebProcess]:
    """Run a service module as a process for the length of the block."""
    service = WebProcess(module, env, log_path, cwd=cwd)
    service.start()
    try:
        yield service
    finally:
        service.stop()
