"""The Dockerfile builds a small image from the lock and runs it unprivileged (no engine here)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Exact image versions: 3.11.16-slim-trixie, not 3.11-slim or latest.
EXACT_TAG = re.compile(r"^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$")


@dataclass
class Stage:
    """One FROM ... block: its base image, name and instructions (keyword, arguments)."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages() -> list[Stage]:
    """The Dockerfile's stages, continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    result: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            result.append(Stage(parts[0], name))
        else:
            assert result, f"{keyword} before the first FROM"
            result[-1].instructions.append((keyword, args.strip()))
    return result


def test_multi_stage_build_copies_only_the_virtualenv() -> None:
    *builders, final = stages()
    assert builders, "build the wheel and the virtualenv in a builder stage"
    assert all(stage.name for stage in builders)
    # Nothing is installed in the final stage: the builder's venv is all it gets.
    assert not any("pip" in run for run in final.all("RUN")), "install in the builder stage"
    copies = final.all("COPY")
    assert copies == [f"--from={builders[-1].name} /opt/venv /opt/venv"], copies


def test_base_images_are_pinned_to_exact_versions() -> None:
    for stage in stages():
        name, _, tag = stage.image.partition(":")
        assert name == "python", "the image runs on the official Python image"
        assert EXACT_TAG.match(tag), f"pin {stage.image} to an exact version"
        assert tag.startswith("3.11."), "the lock is resolved for Python 3.11"


def test_final_stage_runs_as_a_numeric_non_root_user() -> None:
    final = stages()[-1]
    users = final.all("USER")
    assert users, "the final stage must switch to an unprivileged user"
    uid, _, gid = users[-1].partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert uid.isdigit(), f"USER {users[-1]}: give the numeric uid"
    assert int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)
    # Nothing after USER may need root.
    after = final.instructions[final.instructions.index(("USER", users[-1])) :]
    assert not any(keyword == "RUN" for keyword, _ in after)


def test_dependencies_install_from_the_lock_without_resolving() -> None:
    builder = stages()[0]
    runs = builder.all("RUN")
    lock_installs = [run for run in runs if "-r /src/requirements.lock" in run]
    assert len(lock_installs) == 1, "install the dependencies from requirements.lock"
    assert "--no-deps" in lock_installs[0]
    assert "--only-binary=:all:" in lock_installs[0], "no source builds of dependencies"
    # The project itself too: with --no-deps nothing outside the lock can slip in...
    wheel_install = [run for run in runs if "/wheels/" in run and "install" in run]
    assert wheel_install
    assert "pip install --no-deps /wheels/" in wheel_install[0]
    # ...and pip check fails the build when the lock misses something.
    assert "pip check" in wheel_install[0]
    # The lock is copied before the code, so code changes keep the dependency layer.
    copies = builder.all("COPY")
    assert copies.index("requirements.lock /src/requirements.lock") < copies.index(". /src")


def test_runs_the_worker_and_stops_it_gracefully() -> None:
    final = stages()[-1]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert final.all("ENTRYPOINT") == ['["escalations"]']
    assert "escalations" in scripts
    assert final.all("CMD") == ['["worker"]']
    assert final.all("STOPSIGNAL") == ["SIGTERM"]
    assert final.all("EXPOSE") == ["9464"]
    assert any("ESCALATIONS_METRICS_ADDRESS=0.0.0.0:9464" in env for env in final.all("ENV"))


def test_dockerignore_keeps_secrets_and_state_out_but_the_sources_in() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        for pattern in patterns:
            anywhere = pattern.removeprefix("**/")
            if pattern.startswith("**/") and fnmatch.fnmatch(Path(path).name, anywhere):
                return True
            if fnmatch.fnmatch(path, pattern) or path.split("/")[0] == pattern:
                return True
        return False

    for path in (".venv/bin/python", ".data/temporal.db", ".git/config", ".env", "a/b/c.pem"):
        assert ignored(path), f"{path} must stay out of the build context"
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    needed = ["pyproject.toml", "README.md", "requirements.lock", "policies/default.yaml"]
    needed += [f"{package.replace('.', '/')}/__init__.py" for package in setuptools["packages"]]
    needed += [f"{module}.py" for module in setuptools["py-modules"]]
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not ignored(path), f"the build needs {path}"
