"""The sign-up web application: the form, and a sync or async save behind it."""
