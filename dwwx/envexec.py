"""Start a program with some of a private env file's variables added.

Usage: python -m dwwx.envexec ENV_FILE NAME[,NAME...] -- PROGRAM [ARG...]
("-" for no names). Each service gets only the secrets it needs.
"""

import os
import sys
from pathlib import Path

from dwwx.state import read_env_file

USAGE = "usage: python -m dwwx.envexec ENV_FILE NAMES -- PROGRAM [ARG...]"


def main(argv: list[str]) -> None:
    """Replace this process with the program, its environment extended."""
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit(USAGE)
    env_file, names, program = Path(argv[0]), argv[1], argv[3:]
    wanted = set() if names == "-" else set(names.split(","))
    secrets = read_env_file(env_file)
    missing = wanted - secrets.keys()
    if missing:
        raise SystemExit(f"{env_file} lacks {', '.join(sorted(missing))}")
    env = os.environ | {name: secrets[name] for name in wanted}
    # exec, not a child: supervisord's signals must reach the program itself.
    os.execvpe(program[0], program, env)


if __name__ == "__main__":
    main(sys.argv[1:])
