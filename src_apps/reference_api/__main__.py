"""Run the reference-data API: ``python -m src_apps.reference_api``."""

from src_apps.reference_api.app import main

main()
