"""Errors a user will meet: one red line naming the cause and the fix, exit non-zero."""

import os
import socket
import subprocess
import sys

import pytest


def test_unknown_version_is_one_line_and_exit_2(project):
    result = project.dwwx("up", "v9")

    assert result.code == 2
    assert (
        result.err
        == "dwwx: unknown manifest version 'v9'; choose one of v1, v2, v3, v4\n"
    )


@pytest.mark.parametrize("command", [["ps"], ["logs", "web"], ["verify-db"]])
def test_commands_that_need_a_running_app_say_how_to_start_it(project, command):
    result = project.dwwx(*command)

    assert result.code == 1
    expected = f"nothing is running from {project.state_dir}; start it with: dwwx up v4"
    assert result.err == f"dwwx: {expected}\n"


def test_unknown_service_names_the_short_names(project):
    result = project.dwwx("logs", "database")

    assert result.code == 2
    assert result.err == (
        "dwwx: unknown service 'database'; choose one of db, web, homepage, proxy, "
        "api, mq, handler\n"
    )


def test_scaling_the_handler_before_v4_is_refused(project):
    result = project.dwwx("up", "v2", "--scale", "save-handler=3")

    assert result.code == 2
    assert result.err == (
        "dwwx: v2 has no signup-save-handler to scale; it runs from v4 on: "
        "dwwx up v4 --scale save-handler=N\n"
    )
    assert project.supervisor_pid() is None


def test_scale_on_a_running_v1_is_refused_and_v1_keeps_running(project):
    project.ok("up", "v1")

    result = project.dwwx("scale", "save-handler=2")

    assert result.code == 2
    assert result.err.startswith("dwwx: v1 has no signup-save-handler to scale;")
    assert "signup-web" in project.ok("ps")


def test_foreign_state_folder_is_refused(project):
    project.state_dir.mkdir()
    (project.state_dir / "notes.txt").write_text("mine")

    result = project.dwwx("up", "v1")

    assert result.code == 1
    assert result.err == (
        f"dwwx: {project.state_dir} is not a dwwx state folder (no dwwx-state.json); "
        "pass --state-dir to an empty or dwwx folder\n"
    )
    assert (project.state_dir / "notes.txt").read_text() == "mine"


def test_corrupt_state_record_is_refused(project):
    project.state_dir.mkdir()
    (project.state_dir / "dwwx-state.json").write_text("{not json")

    result = project.dwwx("ps")

    assert result.code == 1
    assert result.err.startswith(
        f"dwwx: cannot read {project.state_dir}/dwwx-state.json"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_unreadable_state_folder_is_refused(project):
    project.state_dir.mkdir(mode=0)
    try:
        result = project.dwwx("ps")
    finally:
        project.state_dir.chmod(0o755)

    assert result.code == 1
    assert result.err == (
        f"dwwx: cannot read state folder {project.state_dir}; fix its permissions "
        "or pass --state-dir\n"
    )


def test_taken_port_names_the_process_that_holds_it(project):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", project.port))
        holder.listen()
        result = project.dwwx("up", "v1")

    assert result.code == 1
    name = open("/proc/self/comm").read().strip()  # noqa: SIM115
    assert result.err == (
        f"dwwx: port {project.port} is taken by {name} (pid {os.getpid()}), needed by "
        "signup-web; stop it or pass --port to move dwwx's ports\n"
    )
    assert project.supervisor_pid() is None


def test_bad_option_value_is_one_line(project):
    result = project.dwwx("logs", "web", "--tail", "many")

    assert result.code == 2
    assert result.err.count("\n") == 1
    assert result.err.startswith("dwwx: Invalid value for '--tail'")


def test_bad_setting_names_the_variable(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dwwx", "ps"],
        env={"DWWX_PORT": "eighty", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("dwwx: invalid setting DWWX_PORT='eighty'")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("option", ["caddy=", "nginx=nginx:1", "=img"])
def test_bad_base_image_option_is_refused_before_building(project, option):
    result = project.dwwx("build", "--base-image", option)

    assert result.code == 2
    assert result.err == (
        f"dwwx: bad --base-image {option!r}; write IMAGE or caddy=IMAGE\n"
    )
