"""requirements.lock pins every runtime dependency, transitive ones included (see `make lock`)."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PINNED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")
# The image's platform: what the markers of the locked packages are evaluated against.
IMAGE_ENVIRONMENT: dict[str, str] = {
    **{key: str(value) for key, value in default_environment().items()},
    "python_version": "3.11",
    "python_full_version": "3.11.16",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}


def locked() -> dict[str, str]:
    """Canonical name -> version, failing on any line that is not `name==version`."""
    result: dict[str, str] = {}
    for number, line in enumerate((ROOT / "requirements.lock").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = PINNED.match(line)
        assert match, f"requirements.lock:{number}: {line!r} is not name==version"
        name = canonicalize_name(match["name"])
        assert name not in result, f"requirements.lock:{number}: {name} is locked twice"
        result[name] = match["version"]
    return result


def project() -> dict[str, object]:
    data: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return data


def test_every_line_pins_one_package() -> None:
    lock = locked()
    assert lock
    assert canonicalize_name(str(project()["name"])) not in lock, "the project is not a dependency"


def test_every_project_dependency_is_locked_at_the_version_pyproject_pins() -> None:
    lock = locked()
    dependencies = project()["dependencies"]
    assert isinstance(dependencies, list)
    for text in dependencies:
        requirement = Requirement(text)
        [specifier] = requirement.specifier
        assert specifier.operator == "==", f"pyproject.toml: pin {text} exactly"
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is a dependency but not in requirements.lock: make lock"
        assert lock[name] == specifier.version, (
            f"pyproject.toml pins {text}, requirements.lock {name}=={lock[name]}: make lock"
        )


def test_the_lock_holds_every_dependency_of_every_locked_package() -> None:
    # What the packages require is read from their installed metadata (this test environment
    # installs the same runtime dependencies); `pip check` in the image build checks it again.
    lock = locked()
    checked = 0
    for name, version in lock.items():
        distribution = importlib.metadata.distribution(name)
        same_version = Version(distribution.version) == Version(version)
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(IMAGE_ENVIRONMENT):
                continue
            needed = canonicalize_name(requirement.name)
            assert needed in lock, f"{name} requires {requirement}, which is not locked"
            if same_version:
                assert requirement.specifier.contains(lock[needed], prereleases=True), (
                    f"{name}=={version} requires {requirement}; the lock has {lock[needed]}"
                )
                checked += 1
    assert checked, "no locked package's requirements could be checked"
