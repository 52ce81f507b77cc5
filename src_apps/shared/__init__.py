"""Code the workshop's applications share: model, messages, data and settings."""
