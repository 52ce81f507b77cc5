"""dwwx installed from its wheel, far from a clone: templates and apps ship inside."""

import os
import subprocess
import sys
from pathlib import Path

from tests.dwwx_project import free_port_block
from tests.services import wait_for


def _dwwx(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(site), "DWWX_RUNTIME": "local"}
    return subprocess.run(
        [sys.executable, "-m", "dwwx", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_wheel_carries_manifests_dockerfiles_and_apps(installed_wheel):
    data = installed_wheel / "dwwx" / "_data"

    assert (data / "manifests" / "compose.yaml.j2").is_file()
    assert (data / "manifests" / "Caddyfile").is_file()
    assert (data / "dockerfiles" / "save-handler" / "Dockerfile").is_file()
    assert (
        installed_wheel / "src_apps" / "web" / "templates" / "signup.html"
    ).is_file()


def test_v4_runs_from_the_installed_wheel(installed_wheel, tmp_path):
    port = str(free_port_block())
    base = ["--port", port]
    try:
        up = _dwwx(installed_wheel, tmp_path, *base, "up", "v4")
        assert up.returncode == 0, up.stderr
        config = (tmp_path / ".dwwx" / "supervisord.conf").read_text()
        assert str(installed_wheel / "dwwx" / "_data" / "manifests") in config

        signup = _dwwx(installed_wheel, tmp_path, *base, "signup", "--email", "w@x.io")
        assert "accepted 1 of 1" in signup.stdout, signup.stderr
        wait_for(
            lambda: (
                _dwwx(
                    installed_wheel, tmp_path, *base, "verify-db", "--email", "w@x.io"
                ).returncode
                == 0
            ),
            timeout=20,
            what="the sign-up to be saved",
        )
    finally:
        down = _dwwx(installed_wheel, tmp_path, *base, "down")
    assert down.returncode == 0, down.stderr


def test_src_apps_is_importable_only_as_shipped(installed_wheel):
    names = {path.name for path in installed_wheel.iterdir()}

    assert {"dwwx", "src_apps"} <= names
    assert not {"tests", "manifests", "dockerfiles", "benchmarks"} & names
