"""The user-facing side of the escalation service: configuration, the Python client, the CLI."""
