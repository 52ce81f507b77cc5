"""The workshop's applications: sign-up web, reference-data API, save handler."""
