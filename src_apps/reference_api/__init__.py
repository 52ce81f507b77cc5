"""The reference-data API: roles and countries for the sign-up form, as JSON."""
