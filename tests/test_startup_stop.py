"""A service still waiting for what it needs at start-up stops when asked."""

import signal
import subprocess

import pytest

from tests.services import free_port, wait_for
from tests.test_web_helpers import SECRET, running

# Nothing listens on these ports: start-up waits the whole minute by default.
WAITING = {
    "web for its database": (
        "src_apps.web",
        {"DATABASE_URL": "postgresql://dwwx@127.0.0.1:{port}/signup"},
        "database not ready yet",
        "asked to stop while waiting for the database",
    ),
    "web for the reference-data API": (
        "src_apps.web",
        {
            "DATABASE_URL": "sqlite:///{folder}/signup.db",
            "REFERENCE_DATA_SOURCE": "api",
            "REFERENCE_DATA_API_URL": "http://127.0.0.1:{port}",
        },
        "reference-data API at",
        "asked to stop while waiting for the reference-data API",
    ),
    "API for its database": (
        "src_apps.reference_api",
        {"DATABASE_URL": "postgresql://dwwx@127.0.0.1:{port}/signup"},
        "database not ready yet",
        "asked to stop while waiting for the database",
    ),
}


@pytest.mark.parametrize(
    ("module", "env", "waiting", "stopped"), WAITING.values(), ids=WAITING.keys()
)
def test_sigterm_ends_a_start_up_wait(tmp_path, module, env, waiting, stopped):
    values = {"port": free_port(), "folder": tmp_path}
    env = {key: value.format(**values) for key, value in env.items()}
    with running(module, env | {"SECRET_KEY": SECRET}, tmp_path / "out.log") as app:
        wait_for(lambda: waiting in app.log(), timeout=20, what=f"{waiting!r}")
        assert app.process is not None

        app.process.send_signal(signal.SIGTERM)
        # Well within the wait it was in, which lasts a minute.
        try:
            app.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{module} ignored SIGTERM while starting:\n{app.log()}")

        assert stopped in app.log()
