"""Workflow code imports and calls nothing nondeterministic.

Production workers run workflows outside the SDK's sandbox (it costs about a third of the
worker's CPU; see ``escalations.runtime.worker.workflow_runner``), so the sandbox no longer
refuses ``datetime.now()`` or ``random`` at run time. This test refuses them before a release
instead: it follows the imports of every registered workflow module through our own packages,
and fails on any module outside the list below, and on any call that reads the clock, the
environment, randomness or files, except where an allowance below says why it cannot reach
history.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("workflows", "policies", "activities", "escalations", "reports")
WORKFLOW_MODULES = (
    "workflows.ticket_escalation",
    "workflows.slo_monitor",
    "workflows.slo_alert",
    "workflows.weekly_report",
)

ALLOWED_IMPORTS = {
    "__future__": "annotations only",
    "asyncio": "tasks and conditions run on the workflow's own deterministic event loop",
    "bisect": "pure",
    "calendar": "pure: monthrange, for the yearly rules of an iCalendar holiday feed",
    "collections": "pure",
    "contextlib": "pure",
    "dataclasses": "pure",
    "datetime": "types and arithmetic; reading the clock is refused below",
    "enum": "pure",
    "fractions": "pure",
    "functools": "pure (caches of pure functions)",
    "holidays": "holiday rules are computed from the year, never looked up",
    "importlib": "policies.zones reads the tzdata package's files: fixed data, cached",
    "ipaddress": "pure parsing (policies.channels: is a webhook URL's host loopback)",
    "itertools": "pure",
    "logging": "workflow.logger; logging writes nothing to history",
    "math": "pure",
    "operator": "pure",
    "pydantic": "models",
    "pydantic_core": "models",
    "re": "pure",
    "statistics": "pure",
    "temporalio": "the SDK",
    "threading": "a lock guarding the shared calendar cache; no thread is started",
    "typing": "annotations",
    "urllib": "urllib.parse only: pure URL parsing (policies.channels validates webhook URLs)",
    "tzdata": "time zone data files: fixed data",
    "zoneinfo": "time zone rules from tzdata: fixed data",
}

# Attribute calls that read the world. `datetime.now` in the status query is the one
# exception: a query writes nothing to history, so the wall clock cannot break replay.
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "uuid4", "urandom"}
ALLOWED_CALL_SITES = {("workflows/ticket_escalation.py", "now", "status")}


def _module_path(name: str) -> Path | None:
    for candidate in (REPO / f"{name.replace('.', '/')}.py", REPO / name.replace(".", "/")):
        if candidate.suffix == ".py" and candidate.exists():
            return candidate
        if (candidate / "__init__.py").exists():
            return candidate / "__init__.py"
    return None


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _closure() -> tuple[dict[str, Path], dict[str, set[str]]]:
    """Our modules the workflow modules reach, and the outside modules each imports."""
    ours: dict[str, Path] = {}
    outside: dict[str, set[str]] = {}
    todo = list(WORKFLOW_MODULES)
    while todo:
        name = todo.pop()
        if name in ours:
            continue
        path = _module_path(name)
        if path is None:
            continue  # `from package import name` where name is not a module
        ours[name] = path
        for imported in _imports(ast.parse(path.read_text())):
            if imported.split(".")[0] in OUR_PACKAGES:
                todo.append(imported)
            else:
                outside.setdefault(imported.split(".")[0], set()).add(name)
    return ours, outside


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, str]:
    """The innermost function around each node (``ast.walk`` meets outer functions first)."""
    owner: dict[ast.AST, str] = {}
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                if node is not func:
                    owner[node] = func.name
    return owner


def test_the_workflow_modules_reach_only_our_pure_code() -> None:
    ours, _ = _closure()
    assert "workflows.ticket_escalation" in ours
    # No activity implementation, CLI or runtime module: only models and pure rules.
    assert not {n for n in ours if n.startswith("escalations")}, sorted(ours)
    assert {n for n in ours if n.startswith(("activities.", "reports."))} <= {
        "activities.models",
        "activities.channels.models",
        "activities.errors",
        "activities.slo_models",
        "reports.burn_rate",
    }, sorted(ours)


def test_the_workflow_modules_import_nothing_nondeterministic() -> None:
    _, outside = _closure()
    unknown = {module: sorted(users) for module, users in outside.items()}
    for module in ALLOWED_IMPORTS:
        unknown.pop(module, None)
    assert not unknown, (
        "workflow code imports modules that are not known to be deterministic "
        f"(module: importing modules): {unknown}. Move the work into an activity, or, if the "
        "module is pure, add it to ALLOWED_IMPORTS with the reason."
    )


def _world_reads(tree: ast.AST, relative: str) -> list[tuple[str, str, str, int]]:
    """Calls in ``tree`` that read the clock or randomness, but ``workflow.now()``."""
    owner = _enclosing_functions(tree)
    return [
        (relative, node.func.attr, owner.get(node, "<module>"), node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in FORBIDDEN_CALLS
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "workflow")
    ]


@pytest.mark.parametrize("module", sorted(_closure()[0]))
def test_no_workflow_module_reads_the_clock_or_randomness(module: str) -> None:
    path = _closure()[0][module]
    relative = path.relative_to(REPO).as_posix()
    found = _world_reads(ast.parse(path.read_text()), relative)
    offending = [site for site in found if site[:3] not in ALLOWED_CALL_SITES]
    assert not offending, (
        f"{offending}: workflow code must take time from workflow.now() and anything else "
        "from outside through an activity"
    )


def test_the_scan_finds_a_clock_read_and_spares_workflow_now() -> None:
    source = (
        "def due(workflow, datetime, uuid):\n"
        "    workflow.now()\n"
        "    return datetime.now(), uuid.uuid4()\n"
    )
    found = _world_reads(ast.parse(source), "x.py")
    assert [(name, owner, line) for _, name, owner, line in found] == [
        ("now", "due", 3),
        ("uuid4", "due", 3),
    ]
