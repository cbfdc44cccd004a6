"""``escalations policy explain NAME``: a policy's escalation procedure as a page people read."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from escalations.cli.arguments import aware_datetime
from escalations.runtime.config import load_settings
from policies.loader import POLICY_SUFFIXES, PolicyError, load_named_policy, read_policy_file
from policies.model import Policy

_PROG = "escalations policy explain"


def add_policy_explain_command(policy_commands: Any) -> None:
    """Register ``policy explain`` on the ``policy`` subparsers."""
    p = policy_commands.add_parser(
        "explain",
        help="the escalation procedure as a page staff read (Markdown or HTML)",
        description="Writes the policy's escalation procedure as a page to hand to new staff "
        "and to read in a review: targets and calendars in words, each level's trigger, who "
        "is contacted and through which channel, quiet hours, and an example timeline per "
        "priority computed by the workflow's own code.",
    )
    p.add_argument(
        "policy",
        metavar="NAME",
        help="a policy name in the policy directory (ESCALATIONS_POLICY_DIR), or the path of a "
        "policy file (.yaml)",
    )
    p.add_argument("--team", help="show the contacts of this team (its overrides applied)")
    p.add_argument("--format", choices=("md", "html"), default="md", help="(md)")
    p.add_argument(
        "--opened",
        type=aware_datetime,
        metavar="TIME",
        help="when the example tickets open, ISO 8601 with a zone (default: now)",
    )
    p.add_argument(
        "--output", type=Path, metavar="FILE", help="write the page to FILE (default: stdout)"
    )
    p.set_defaults(handler=run_explain)


def load_policy_argument(name: str) -> Policy:
    """The policy ``name`` names: a file when it ends in ``.yaml``/``.yml`` or has a ``/``,
    else a policy of that name in the policy directory.

    Raises:
        PolicyError: no such policy, or it is not valid.
    """
    if name.endswith(POLICY_SUFFIXES) or "/" in name:
        return read_policy_file(Path(name))
    return load_named_policy(load_settings().policy_dir, name)


def run_explain(args: argparse.Namespace) -> int:
    """Write the page; 1 when the policy cannot be read, 2 for an argument it cannot use."""
    # Imported here: the simulation behind the example timelines pulls in the workflow code,
    # which no other command needs at start-up.
    from escalations.procedure.explain import ExplainError, explain
    from escalations.procedure.render_html import render_html
    from escalations.procedure.render_markdown import render_markdown

    try:
        policy = load_policy_argument(args.policy)
    except PolicyError as err:
        print(f"{_PROG}: {err}", file=sys.stderr)
        return 1
    opened: datetime = args.opened or datetime.now(UTC).replace(microsecond=0)
    try:
        procedure = explain(policy, opened, team=args.team)
    except ExplainError as err:
        print(f"{_PROG}: {err}", file=sys.stderr)
        return 2
    page = render_html(procedure) if args.format == "html" else render_markdown(procedure)
    if args.output is None:
        sys.stdout.write(page)
        return 0
    try:
        args.output.write_text(page, encoding="utf-8")
    except OSError as err:
        print(f"{_PROG}: --output: cannot write {args.output}: {err.strerror}", file=sys.stderr)
        return 2
    print(f"{args.output}: the procedure of policy {policy.name} v{policy.version}")
    return 0
