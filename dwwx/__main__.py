"""Allow `python -m dwwx`."""

from dwwx.cli import main

main()
