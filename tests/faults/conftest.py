"""Prints the fault-injection figures in the terminal summary, so CI logs always show them."""

from __future__ import annotations

import pytest

FIGURES = pytest.StashKey[list[str]]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for figures in config.stash.get(FIGURES, []):
        terminalreporter.section("fault injection")
        terminalreporter.write_line(figures)
