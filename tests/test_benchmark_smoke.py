"""The peak-load benchmark's command line; the benchmark itself is not run here."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "peak_load.py"


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_help_lists_the_options():
    result = run_script("--help")

    assert result.returncode == 0
    for option in (
        "--count",
        "--concurrency",
        "--port",
        "--json",
        "--lock-seconds",
        "--db",
    ):
        assert option in result.stdout


def test_a_burst_of_nothing_is_refused():
    result = run_script("--count", "0")

    assert result.returncode == 2
    assert "--count, --concurrency and --warm-up must be at least 1" in result.stderr


def test_an_unknown_database_is_refused():
    result = run_script("--db", "mssql")

    assert result.returncode == 2
    assert "invalid choice: 'mssql'" in result.stderr
