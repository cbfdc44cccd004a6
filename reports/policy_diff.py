"""A reviewable change to a policy file: suggested targets written in, as a unified diff.

Pure text in, text out. The policy file is edited where its values are, not dumped again from
the model: comments, key order, flow or block style and quoting all stay as the author wrote
them, so the diff shows only the target values that change and the version line. The policy
file itself is never written (the CLI prints the diff or writes it to a new file), because a
policy change goes through review like code.

Edits are located with PyYAML's composer, whose nodes carry the character offsets of every
scalar. After editing, the new text is parsed again and every target compared with what was
intended; anything else (an alias shared by two priorities, a merge key) is refused rather than
guessed at.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta

import yaml

from policies.durations import TargetSpec, format_target
from policies.loader import PolicyError, parse_policy
from policies.model import ClockName, Policy
from reports.suggest import Suggestion, duration_text

TargetChanges = Mapping[str, Mapping[ClockName, timedelta]]
"""New targets: priority, then clock, then the target."""

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)", re.DOTALL)


class PolicyDiffError(ValueError):
    """The policy file cannot be edited safely; the message says where and why."""


def changes_from(suggestions: Iterable[Suggestion]) -> dict[str, dict[ClockName, timedelta]]:
    """The targets to write: every suggestion that differs from the current target."""
    changes: dict[str, dict[ClockName, timedelta]] = {}
    for row in suggestions:
        if row.changes_target and row.suggested_target_seconds is not None:
            changes.setdefault(row.priority, {})[row.clock] = timedelta(
                seconds=row.suggested_target_seconds
            )
    return changes


def bump_version(version: str) -> str:
    """The next version: the last number in it plus one (``3`` to ``4``, ``2024.7`` to
    ``2024.8``); ``.1`` appended when it has no number (``beta`` to ``beta.1``)."""
    found = _LAST_NUMBER.search(version)
    if found is None:
        return f"{version}.1"
    return f"{version[: found.start()]}{int(found.group(1)) + 1}{version[found.end() :]}"


def _mapping_value(node: yaml.Node, key: str, where: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        raise PolicyDiffError(f"{where}: expected a mapping")
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found: yaml.Node = value_node
            return found
    return None


def _scalar(node: yaml.Node | None, where: str) -> yaml.ScalarNode:
    if not isinstance(node, yaml.ScalarNode):
        raise PolicyDiffError(f"{where}: expected a single value")
    return node


def _edits_for_priority(
    text: str, node: yaml.Node, priority: str, clocks: Mapping[ClockName, TargetSpec]
) -> list[tuple[int, int, str]]:
    where = f"targets.{priority}"
    if not isinstance(node, yaml.MappingNode) or not node.value:
        raise PolicyDiffError(f"{where}: expected a mapping of targets")
    edits = []
    for clock, target in clocks.items():
        value = _mapping_value(node, clock.value, where)
        written = (
            duration_text(target.total_seconds())
            if isinstance(target, timedelta)
            else format_target(target)
        )
        if value is not None:
            scalar = _scalar(value, f"{where}.{clock.value}")
            span = text[scalar.start_mark.index : scalar.end_mark.index]
            if span[:1] in ("&", "!", "*"):
                # An anchor's value may be used elsewhere, and a tag changes its meaning: which
                # of them should change is the author's call.
                raise PolicyDiffError(
                    f"{where}.{clock.value}: written as {span!r} (an anchor, alias or tag); "
                    "edit it by hand"
                )
            edits.append((scalar.start_mark.index, scalar.end_mark.index, written))
            continue
        # An absent key (next_reply defaults to first_response): add it after the last entry,
        # in the mapping's own style.
        last_value = node.value[-1][1]
        if node.flow_style:
            at = last_value.end_mark.index
            edits.append((at, at, f", {clock.value}: {written}"))
        else:
            # After the last entry's line, comment included, at the first key's indentation.
            newline = text.find("\n", last_value.end_mark.index)
            at = len(text) if newline < 0 else newline
            indent = " " * node.value[0][0].start_mark.column
            edits.append((at, at, f"\n{indent}{clock.value}: {written}"))
    return edits


def _with_pinned_next_reply(
    policy: Policy, changes: TargetChanges
) -> dict[str, dict[ClockName, TargetSpec]]:
    # A priority without its own next_reply target inherits first_response's: changing the
    # first-response target would silently change the next-reply target too. Write the inherited
    # value down instead, so that the diff shows every target that changes, and only those.
    pinned: dict[str, dict[ClockName, TargetSpec]] = {}
    for priority, clocks in changes.items():
        wanted: dict[ClockName, TargetSpec] = dict(clocks)
        targets = policy.targets[priority]
        if (
            targets.next_reply is None
            and ClockName.FIRST_RESPONSE in wanted
            and ClockName.NEXT_REPLY not in wanted
        ):
            wanted[ClockName.NEXT_REPLY] = targets.first_response
        pinned[priority] = wanted
    return pinned


def rewrite_policy(text: str, source: str, changes: TargetChanges) -> str:
    """``text`` (a policy file) with ``changes`` written into its ``targets`` and its ``version``
    bumped; everything else byte for byte as it was.

    Raises:
        PolicyError: ``text`` is not a valid policy.
        PolicyDiffError: a priority the policy does not define, or a file shape that cannot be
            edited safely.
    """
    policy = parse_policy(text, source)
    unknown = sorted(set(changes) - set(policy.targets))
    if unknown:
        raise PolicyDiffError(f"{source}: no targets for {', '.join(unknown)} to change")
    wanted = _with_pinned_next_reply(policy, changes)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        raise PolicyDiffError(f"{source}: the file is empty")
    targets = _mapping_value(root, "targets", source)
    if targets is None:
        raise PolicyDiffError(f"{source}: no targets mapping")
    edits = []
    for priority, clocks in wanted.items():
        node = _mapping_value(targets, priority, f"{source}: targets")
        if node is None:
            raise PolicyDiffError(f"{source}: targets.{priority} is not written in the file")
        edits += _edits_for_priority(text, node, priority, clocks)
    version = _scalar(_mapping_value(root, "version", source), f"{source}: version")
    new_version = bump_version(policy.version)
    span = text[version.start_mark.index : version.end_mark.index]
    edits.append(
        (
            version.start_mark.index,
            version.end_mark.index,
            span.replace(policy.version, new_version, 1) if policy.version in span else new_version,
        )
    )
    new_text = text
    for start, end, replacement in sorted(edits, reverse=True):
        new_text = new_text[:start] + replacement + new_text[end:]
    try:
        edited = parse_policy(new_text, f"{source} (suggested)")
    except PolicyError as err:
        raise PolicyDiffError(f"cannot edit the file safely ({err}); edit it by hand") from None
    _check(policy, edited, wanted, new_version, source)
    return new_text


def _check(
    before: Policy,
    after: Policy,
    wanted: Mapping[str, Mapping[ClockName, TargetSpec]],
    version: str,
    source: str,
) -> None:
    """Refuse an edit that did not come out exactly as meant."""
    problems = []
    if after.version != version:
        problems.append(f"version reads {after.version!r}, not {version!r}")
    for priority, targets in before.targets.items():
        for clock in ClockName:
            expected = wanted.get(priority, {}).get(clock, targets.for_clock(clock))
            got = after.targets[priority].for_clock(clock)
            if got != expected:
                problems.append(
                    f"targets.{priority}.{clock.value} reads {format_target(got)}, not "
                    f"{format_target(expected)}"
                )
    if problems:
        raise PolicyDiffError(
            f"{source}: cannot edit the file safely (is a target an alias or a merge key?): "
            + "; ".join(problems)
            + "; edit it by hand"
        )


def unified_diff(before: str, after: str, path: str) -> str:
    """A unified diff from ``before`` to ``after`` of the file at ``path`` (relative to the
    repository, for ``git apply``), with the ``a/`` and ``b/`` prefixes git uses."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )
