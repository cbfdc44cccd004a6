"""The layers import downwards only, read from the source (no imports are executed).

``policies`` describes and computes: it imports nothing of ours. ``workflows`` decides and
``activities`` acts: neither imports the CLI, the client, the runtime wiring or anything else
under ``escalations``. Nothing imports the root entrypoint ``worker.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"policies", "workflows", "activities", "reports", "escalations", "benchmarks", "worker"}
ALLOWED: dict[str, set[str]] = {
    "policies": {"policies"},
    "workflows": {"policies", "workflows", "activities"},
    "activities": {"policies", "workflows", "activities", "reports"},
    "reports": {"policies", "workflows", "activities", "reports"},
    "escalations": OURS - {"worker", "benchmarks"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages of ours that ``path`` imports (any import statement)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & OURS
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    bad = {
        str(path.relative_to(ROOT)): sorted(extra)
        for path in sorted((ROOT / layer).rglob("*.py"))
        if (extra := imported_packages(path) - ALLOWED[layer])
    }
    assert not bad, f"{layer} imports what it must not: {bad}"


def test_escalations_keeps_few_modules_at_its_top_level() -> None:
    top = sorted(p.name for p in (ROOT / "escalations").glob("*.py"))
    assert len(top) <= 8, f"escalations/ is a hallway again: {top}; give each job a room"


def test_the_entrypoint_is_a_few_lines() -> None:
    lines = (ROOT / "worker.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 15
