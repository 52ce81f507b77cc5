"""Start a program with a private env file's variables added: envexec FILE -- ARGV."""

import os
import sys
from pathlib import Path

from dwwx.state import read_env_file


def main(argv: list[str]) -> None:
    """Replace this process with the program, its environment extended."""
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: python -m dwwx.envexec ENV_FILE -- PROGRAM [ARG...]")
    env = os.environ | read_env_file(Path(argv[0]))
    program = argv[2:]
    # exec, not a child: supervisord's signals must reach the program itself.
    os.execvpe(program[0], program, env)


if __name__ == "__main__":
    main(sys.argv[1:])
