"""Every error type is one constant, raised by name and retried (or not) by name.

Read from the source: a string literal as an ``ApplicationError`` type in an activity, or in a
``non_retryable_error_types`` list, would let a rename turn a permanent failure (a rejected
address, a missing policy) into one retried for a day, or the other way round.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from activities import errors

ROOT = Path(__file__).resolve().parents[2]
RETRY_MODULES = [ROOT / "workflows" / "timeouts.py", ROOT / "workflows" / "slo_timeouts.py"]
CONSTANTS = {
    name: value for name, value in vars(errors).items() if name.isupper() and isinstance(value, str)
}


def _keyword_values(path: Path, keyword: str) -> list[ast.expr]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        kw.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == keyword
    ]


def _constant_name(node: ast.expr) -> str | None:
    """``errors.X`` or ``X`` (imported from activities.errors): the constant's name."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.attr if node.value.id == "errors" else None
    if isinstance(node, ast.Name):
        return node.id
    return None


def non_retryable_lists() -> dict[str, list[ast.expr]]:
    return {
        f"{path.name}:{value.lineno}": value.elts
        for path in RETRY_MODULES
        for value in _keyword_values(path, "non_retryable_error_types")
        if isinstance(value, ast.List)
    }


def test_there_are_retry_policies_to_check() -> None:
    assert len(non_retryable_lists()) >= 4


@pytest.mark.parametrize("where", sorted(non_retryable_lists()))
def test_every_non_retryable_list_is_built_from_the_constants(where: str) -> None:
    names = [_constant_name(element) for element in non_retryable_lists()[where]]
    assert all(name in CONSTANTS for name in names), f"{where}: {names}"
    assert {CONSTANTS[name] for name in names if name} <= errors.PERMANENT


def test_every_permanent_type_is_in_some_non_retryable_list() -> None:
    listed = {
        CONSTANTS[name]
        for elements in non_retryable_lists().values()
        for element in elements
        if (name := _constant_name(element)) in CONSTANTS
    }
    assert listed == errors.PERMANENT


@pytest.mark.parametrize(
    "path", sorted((ROOT / "activities").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_activities_raise_error_types_by_name(path: Path) -> None:
    literals = [
        ast.literal_eval(value)
        for value in _keyword_values(path, "type")
        if isinstance(value, ast.Constant) and isinstance(value.value, str)
    ]
    assert not literals, f"{path.name} raises literal error types {literals}: use activities.errors"


def test_each_constant_is_raised_somewhere() -> None:
    source = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (ROOT / "activities").rglob("*.py")
        if p.name != "errors.py"
    )
    unused = [name for name in CONSTANTS if name not in source]
    assert not unused, f"error types nobody raises: {unused}"
