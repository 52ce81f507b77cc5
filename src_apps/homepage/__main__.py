"""Run the homepage: ``python -m src_apps.homepage``."""

from src_apps.homepage.app import main

main()
