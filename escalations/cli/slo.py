"""``escalations slo suggest``: the targets a policy's objectives would have needed, a what-if
under a candidate policy, and a reviewable diff of the policy file.

The figures come from the ticket outcomes in Temporal's visibility store (one request per 1,000
tickets, see :mod:`reports.visibility`); the arithmetic is in :mod:`reports.suggest`,
:mod:`reports.whatif` and :mod:`reports.policy_diff`. The policy file is never changed in place:
a target change goes through review like any other change to a policy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.service import RPCError

from escalations.cli.arguments import ArgumentProblem, aware_datetime, policy_name
from escalations.cli.ticket import release_clients
from escalations.client.errors import connect_failure_reason
from escalations.runtime.config import Settings, load_settings
from escalations.runtime.connection import connect
from policies.loader import PolicyError, find_policy_file, load_named_policy, read_policy_file
from policies.model import DEFAULT_SLO_WINDOW, Policy
from reports.policy_diff import PolicyDiffError, changes_from, rewrite_policy, unified_diff
from reports.suggest import render_suggestions, suggest
from reports.visibility import ReadSummary, TicketFilter, read_outcomes
from reports.whatif import render_what_if, what_if
from workflows.ticket_outcome import TicketOutcome

COMMAND = "escalations slo suggest"


def objective_percent(text: str) -> float:
    """``95%`` (or ``95``) as 95.0, for ``--objective`` (an argparse ``type``)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage such as 95%") from None
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(
            f"{text!r}: an objective is above 0% and below 100% (100% leaves no error budget)"
        )
    return value


def add_slo_commands(commands: Any) -> None:
    """Register ``slo`` and its subcommands on the ``escalations`` subparsers."""
    slo = commands.add_parser("slo", help="service-level objectives: suggested targets, what-if")
    sub = slo.add_subparsers(dest="slo_command", required=True, metavar="COMMAND")
    text = (
        "From the tickets opened in a period: per priority and clock, the target each "
        "objective would have needed, and the attainment of the current and the suggested "
        "target. The policy file is never changed: --diff prints a unified diff for review, "
        "--write-to saves it to a new file. See docs/slo-suggest.md."
    )
    p = sub.add_parser("suggest", help="suggest SLA targets from past tickets", description=text)
    p.add_argument(
        "--policy", type=policy_name, default="default", help="policy name (default: default)"
    )
    p.add_argument(
        "--from",
        dest="opened_from",
        type=aware_datetime,
        metavar="ISO8601",
        help="tickets opened at or after (default: 28 days before --to)",
    )
    p.add_argument(
        "--to",
        dest="opened_to",
        type=aware_datetime,
        metavar="ISO8601",
        help="tickets opened before (default: now)",
    )
    p.add_argument(
        "--candidate",
        type=Path,
        metavar="FILE",
        help="a policy file with other calendars or targets: re-measure every past clock on it",
    )
    p.add_argument(
        "--objective",
        type=objective_percent,
        metavar="PERCENT",
        help="objective for priorities and clocks the policy states none for, e.g. 95%%",
    )
    p.add_argument("--format", choices=("table", "json"), default="table", help="(table)")
    p.add_argument(
        "--diff",
        action="store_true",
        help="print only a unified diff of the policy file with the suggested targets (and a "
        "bumped version) written in; the policy file itself is never modified",
    )
    p.add_argument(
        "--write-to",
        type=Path,
        metavar="FILE",
        help="write that diff to FILE, a new file (never the policy), and print the figures",
    )
    p.set_defaults(handler=run_suggest)


@dataclass
class _Inputs:
    policy: Policy
    policy_path: Path
    candidate: Policy | None
    selection: TicketFilter


def _one_line(err: PolicyError) -> str:
    return f"{err.source}: {'; '.join(err.problems)}"


def _inputs(args: argparse.Namespace, settings: Settings, now: datetime) -> _Inputs:
    try:
        policy = load_named_policy(settings.policy_dir, args.policy)
    except PolicyError as err:
        raise ArgumentProblem(f"--policy: {_one_line(err)}") from None
    path = find_policy_file(settings.policy_dir, args.policy)
    assert path is not None  # load_named_policy found it
    candidate = None
    if args.candidate is not None:
        try:
            candidate = read_policy_file(args.candidate)
        except PolicyError as err:
            raise ArgumentProblem(f"--candidate: {_one_line(err)}") from None
    opened_to = args.opened_to or now
    opened_from = args.opened_from or opened_to - DEFAULT_SLO_WINDOW
    if opened_from >= opened_to:
        raise ArgumentProblem(
            f"--from: {opened_from.isoformat()} is not before --to {opened_to.isoformat()}"
        )
    if args.write_to is not None and (args.write_to.exists() or args.write_to.is_symlink()):
        raise ArgumentProblem(
            f"--write-to: {args.write_to} exists; name a new file (nothing is ever overwritten)"
        )
    if args.write_to is not None and not args.write_to.parent.is_dir():
        raise ArgumentProblem(f"--write-to: no directory {args.write_to.parent}")
    selection = TicketFilter(opened_from, opened_to, policies=(policy.name,))
    return _Inputs(policy, path, candidate, selection)


async def _read(settings: Settings, selection: TicketFilter) -> tuple[list[TicketOutcome], int]:
    client = await connect(settings)
    summary = ReadSummary()
    outcomes = await read_outcomes(client, selection, summary=summary)
    return outcomes, summary.without_outcome


def _diff_label(path: Path) -> str:
    # Relative to the working directory, so that `git apply` run there finds the file.
    return Path(os.path.relpath(path.resolve())).as_posix()


def run_suggest(args: argparse.Namespace) -> int:
    """Run ``escalations slo suggest``.

    Returns:
        0 on success, 1 when Temporal could not be read, 2 for a bad argument or setting.
    """
    settings = load_settings()
    try:
        inputs = _inputs(args, settings, datetime.now(UTC))
    except ArgumentProblem as err:
        print(f"{COMMAND}: error: {err}", file=sys.stderr)
        return 2
    try:
        outcomes, without_outcome = asyncio.run(_read(settings, inputs.selection))
    except RuntimeError as err:
        if "connect" not in str(err).lower():
            raise
        print(
            f"{COMMAND}: cannot reach Temporal at {settings.temporal_address} "
            f"(TEMPORAL_ADDRESS): {connect_failure_reason(err)}; is it running? "
            "(`escalations dev` starts one)",
            file=sys.stderr,
        )
        return 1
    except RPCError as err:
        print(f"{COMMAND}: Temporal refused the visibility query: {err.message}", file=sys.stderr)
        return 1
    finally:
        release_clients()

    policy = inputs.policy
    suggestions = suggest(outcomes, policy, default_objective=args.objective)
    diff = None
    if args.diff or args.write_to is not None:
        changes = changes_from(suggestions)
        if changes:
            text = inputs.policy_path.read_text(encoding="utf-8")
            try:
                new_text = rewrite_policy(text, str(inputs.policy_path), changes)
            except PolicyDiffError as err:
                print(f"{COMMAND}: {err}", file=sys.stderr)
                return 1
            diff = unified_diff(text, new_text, _diff_label(inputs.policy_path))
    if args.diff and args.write_to is None:
        if diff is None:
            print(f"{COMMAND}: no target to change: nothing to diff", file=sys.stderr)
        else:
            sys.stdout.write(diff)
        return 0
    if args.write_to is not None and diff is not None:
        with args.write_to.open("x", encoding="utf-8") as out:
            out.write(diff)

    what = None
    if inputs.candidate is not None:
        what = what_if(outcomes, policy, inputs.candidate, default_objective=args.objective)
    selection = inputs.selection
    if args.format == "json":
        document: dict[str, Any] = {
            "policy": {"name": policy.name, "version": policy.version},
            "opened_from": selection.opened_from.isoformat(),
            "opened_to": selection.opened_to.isoformat(),
            "tickets": len(outcomes),
            "tickets_without_outcome": without_outcome,
            "suggestions": [row.model_dump(mode="json") for row in suggestions],
            "what_if": None,
            "diff_written_to": str(args.write_to) if diff is not None else None,
        }
        if what is not None and inputs.candidate is not None:
            rows, warnings = what
            document["what_if"] = {
                "candidate": {
                    "file": str(args.candidate),
                    "name": inputs.candidate.name,
                    "version": inputs.candidate.version,
                },
                "rows": [row.model_dump(mode="json") for row in rows],
                "warnings": warnings,
            }
        print(json.dumps(document, indent=2))
    else:
        print(
            render_suggestions(
                suggestions,
                policy,
                selection.opened_from,
                selection.opened_to,
                len(outcomes),
                without_outcome,
            )
        )
        if what is not None and inputs.candidate is not None:
            print()
            print(render_what_if(*what, str(args.candidate), inputs.candidate))
    if args.write_to is not None:
        if diff is None:
            print(f"no target to change: {args.write_to} not written", file=sys.stderr)
        else:
            print(
                f"diff written to {args.write_to}; review it, then `git apply {args.write_to}`",
                file=sys.stderr,
            )
    return 0
