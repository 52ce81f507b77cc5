"""Run the sign-up workshop, v1 to v4, on Docker or as local processes."""

__version__ = "0.1.0"
