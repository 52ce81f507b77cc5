"""Run the sign-up web application: ``python -m src_apps.web``."""

from src_apps.web.app import main

main()
