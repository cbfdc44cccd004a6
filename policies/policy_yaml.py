"""Policy YAML read safely and validated, with errors a person can act on.

Every error names the source (usually the file), the field path (``levels.2.when.clock``) and
what is wrong. Pure: text in, a model or :class:`PolicyError` out; ``policies/loader.py`` reads
the files.
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_POLICY_NODES = 100_000
"""Values in a policy with every YAML alias expanded: a few hundred in a real policy, while ten
nested aliases of ten ("billion laughs") expand 200 bytes into 10**10 and would hang validation."""
MAX_POLICY_DEPTH = 50
"""Nesting depth of a policy's YAML: about ten in a real one (``levels.0.when.any.1.all.0``)."""


class PolicyError(ValueError):
    """A policy file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: list[str], header: str = "invalid policy:") -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "\n  ".join([header, *problems]))


class _PolicyYamlLoader(yaml.SafeLoader):
    """YAML's safe loader, except that dates stay text: PyYAML turns ``2026-02-30`` into an
    exception without a line or field, while pydantic reports it with the field's path."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct one value; a ``ValueError`` of PyYAML's own constructors (``!!int x``,
        ``!!timestamp 2026-02-30``, an integer of 5,000 digits) becomes a located YAML error."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {exc}", node.start_mark
            ) from None


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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _located_problem(node: yaml.Node, problem: str) -> str:
    mark = node.start_mark
    return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _check_expansion(root: yaml.Node) -> str | None:
    """A problem if ``root``, its aliases expanded, is cyclic, too deep or too large.

    Iterative, and each node is visited once however many aliases point at it, so checking a
    bomb costs no more than reading it.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) below and including it
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            below = [sizes[id(child)] for child in _children(node)]
            size = 1 + sum(count for count, _ in below)
            depth = 1 + max((d for _, d in below), default=0)
            if size > MAX_POLICY_NODES:
                return _located_problem(
                    node,
                    f"more than {MAX_POLICY_NODES:,} values once its aliases (*name) are "
                    "expanded; a policy is far smaller",
                )
            if depth > MAX_POLICY_DEPTH:
                return _located_problem(node, f"nested more than {MAX_POLICY_DEPTH} levels deep")
            sizes[key] = (size, depth)
        elif key in on_path:
            return _located_problem(node, "an alias (*name) refers to a value that contains it")
        elif key not in sizes:
            on_path.add(key)
            stack.append((node, True))
            stack += [(child, False) for child in _children(node) if id(child) not in sizes]
    return None


def _read_yaml(text: str, source: str) -> Any:
    loader: _PolicyYamlLoader | None = None
    try:
        loader = _PolicyYamlLoader(text)  # a SafeLoader: no arbitrary objects
        try:
            root = loader.get_single_node()
        except RecursionError:
            # PyYAML composes recursively: a thousand nested brackets exhaust the stack.
            raise PolicyError(
                source, [f"not valid YAML: nested more than {MAX_POLICY_DEPTH} levels deep"]
            ) from None
        if root is None:
            return None
        problem = _check_expansion(root)
        if problem:
            raise PolicyError(source, [problem])
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(source, [f"not valid YAML{where}: {problem}"]) from None
    finally:
        if loader is not None:
            loader.dispose()


def validate_yaml(text: str, source: str, model: type[ModelT], shape: str) -> ModelT:
    """Read YAML ``text`` safely and validate it as ``model``; every problem names ``source``
    and the field path. ``shape`` says what the document should be when it is not a mapping.

    Raises:
        PolicyError: not YAML, not a mapping, or not a valid ``model``.
    """
    data = _read_yaml(text, source)
    if not isinstance(data, dict):
        raise PolicyError(source, [shape])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path, message = _path(err["loc"]), err["msg"].removeprefix("Value error, ")
            problems += [_located(path, line) for line in message.split("\n")]
        raise PolicyError(source, problems) from None
