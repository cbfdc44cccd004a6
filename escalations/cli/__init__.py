"""The ``escalations`` command: one module per command group, :mod:`.main` dispatches."""

from escalations.cli.main import main

__all__ = ["main"]
