"""Read policy YAML into a validated :class:`Policy`, with errors a person can act on.

Every error names the file, the field path (``levels.2.when.clock``) and what is wrong. This is
the only module in ``policies/`` that touches files; workflows reach it only through the
``load_policy`` activity, so the policy a ticket runs under is recorded in its history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policies.model import Policy

POLICY_SUFFIXES = (".yaml", ".yml")
MAX_POLICY_BYTES = 1_000_000


class PolicyError(ValueError):
    """A policy file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: list[str], header: str = "invalid policy:") -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "\n  ".join([header, *problems]))


class _PolicyYamlLoader(yaml.SafeLoader):
    """YAML's safe loader, except that dates stay text: PyYAML turns ``2026-02-30`` into an
    exception without a line or field, while pydantic reports it with the field's path."""


_PolicyYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_UNION_TAGS = {"clock", "field", "any", "all"}


def _path(loc: tuple[int | str, ...]) -> str:
    # Pydantic puts the condition's union tag (clock, field, any, all) in the location before
    # the key itself, and at the end for whole-condition errors; authors only know the keys
    # they wrote, so drop the tags.
    shown: list[str] = []
    for i, part in enumerate(loc):
        text = str(part)
        previous = loc[i - 1] if i else None
        in_list = isinstance(previous, int) and i > 1 and loc[i - 2] in {"any", "all"}
        is_tag = text in _UNION_TAGS and (previous == "when" or in_list)
        if (
            is_tag
            or text == "[key]"
            or text.startswith(("function-", "json-or-python", "lax-or-strict"))
        ):
            continue
        shown.append(text)
    return ".".join(shown)


def _located(path: str, line: str) -> str:
    # A model's own checks report several problems, one per line, each starting with the
    # field inside the model it concerns (``hours: ...``); join that to the model's path.
    if not path:
        return line
    head, sep, rest = line.partition(": ")
    if sep and head and " " not in head:
        return f"{path}.{head}: {rest}"
    return f"{path}: {line}"


def parse_policy(text: str, source: str) -> Policy:
    """Validate policy YAML ``text``; ``source`` names it in errors (usually the file path)."""
    try:
        data: Any = yaml.load(text, Loader=_PolicyYamlLoader)  # a SafeLoader: see below
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(source, [f"not valid YAML{where}: {problem}"]) from None
    if not isinstance(data, dict):
        raise PolicyError(source, ["a policy is a mapping with name, version, targets, levels"])
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path, message = _path(err["loc"]), err["msg"].removeprefix("Value error, ")
            problems += [_located(path, line) for line in message.split("\n")]
        raise PolicyError(source, problems) from None


def read_policy_file(path: Path) -> Policy:
    """Read and validate one policy file."""
    try:
        size = path.stat().st_size
        if size > MAX_POLICY_BYTES:
            raise PolicyError(str(path), [f"the file is {size} bytes; a policy is at most 1 MB"])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(str(path), [f"cannot read the file: {exc}"]) from None
    return parse_policy(text, str(path))


def find_policy_file(directory: Path, name: str) -> Path | None:
    """The file that holds policy ``name`` in ``directory`` (``name.yaml`` or ``name.yml``)."""
    for suffix in POLICY_SUFFIXES:
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def load_named_policy(directory: Path, name: str) -> Policy:
    """Load policy ``name`` from ``directory``, checking the file declares that name."""
    path = find_policy_file(directory, name)
    if path is None:
        known = sorted(p.stem for s in POLICY_SUFFIXES for p in directory.glob(f"*{s}"))
        raise PolicyError(
            str(directory / f"{name}.yaml"),
            [f"no policy named {name!r} in {directory}; found: {', '.join(known) or 'none'}"],
            header="policy not found:",
        )
    policy = read_policy_file(path)
    if policy.name != name:
        raise PolicyError(str(path), [f"name: the file declares {policy.name!r}, not {name!r}"])
    return policy


def default_policy_dir() -> Path:
    """The policies shipped with the project (this package's folder)."""
    return Path(__file__).resolve().parent
