"""The ``escalations`` command: ``dev``, ``worker``, ``ticket ...``, ``policy check``, and
``codec-server`` / ``codec-key`` (payload encryption), ``api`` / ``api-key`` (the HTTP API and
helpdesk webhooks).

Exit codes: 0 success, 1 the server, a ticket or a policy file said no, 2 a bad argument or
setting, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from escalations import dev
from escalations.api.server import DEFAULT_PORT as DEFAULT_API_PORT
from escalations.cli.api import add_api_command
from escalations.cli.api_keys import add_api_key_commands
from escalations.cli.arguments import positive_int, positive_number
from escalations.cli.channels import add_channels_commands
from escalations.cli.drill import add_drill_command
from escalations.cli.oncall import add_oncall_commands
from escalations.cli.policy_explain import add_policy_explain_command
from escalations.cli.policy_simulate import add_policy_simulate_command
from escalations.cli.report import add_report_command
from escalations.cli.schedules import add_schedule_commands
from escalations.cli.security import add_security_commands
from escalations.cli.slo import add_slo_commands
from escalations.cli.ticket import add_ticket_commands, release_clients
from escalations.cli.tickets import add_tickets_commands
from escalations.client.errors import connect_failure_reason
from escalations.runtime import worker
from escalations.runtime.binaries import BinaryNotFound
from escalations.runtime.config import DEV_METRICS_ADDRESS, ConfigError, load_settings
from escalations.runtime.logging_setup import configure_logging
from policies.loader import PolicyError, read_policy_file

Handler = Callable[[argparse.Namespace], int]


def _dev(args: argparse.Namespace) -> int:
    configure_logging(load_settings(default_metrics_address=DEV_METRICS_ADDRESS).log_format)
    try:
        asyncio.run(
            dev.run_dev(
                port=args.port,
                ui_port=args.ui_port,
                data_dir=args.data_dir,
                in_memory=args.in_memory,
                api_port=args.api_port,
            )
        )
    except (dev.DevServerError, BinaryNotFound) as err:
        print(f"escalations dev: {err}", file=sys.stderr)
        return 1
    finally:
        release_clients()
    return 0


def _worker(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_format)
    try:
        asyncio.run(worker.run_worker(settings))
    except RuntimeError as err:
        if "connect" not in str(err):
            raise
        print(
            f"escalations worker: cannot reach Temporal at {settings.temporal_address} "
            f"(TEMPORAL_ADDRESS): {connect_failure_reason(err)}. Start a local server with "
            "`escalations dev`, or set TEMPORAL_ADDRESS to your server's host:port",
            file=sys.stderr,
        )
        return 1
    finally:
        release_clients()
    return 0


def _bench(args: argparse.Namespace) -> int:
    from escalations.bench.report import render_table
    from escalations.bench.run import BenchConfig, run_bench

    if args.quick:
        config = BenchConfig.quick(db=args.db, address=args.address)
    else:
        config = BenchConfig(
            tickets=args.tickets,
            rate=args.rate,
            storm=args.storm,
            opens=args.opens,
            sleeping=args.sleeping,
            db=args.db,
            address=args.address,
        )
    try:
        result = asyncio.run(run_bench(config, progress=lambda line: print(line, flush=True)))
    finally:
        release_clients()
    print(render_table(result))
    if args.json is not None:
        args.json.write_text(result.to_json() + "\n")
        print(f"JSON written to {args.json}")
    return 0


def _policy_check(args: argparse.Namespace) -> int:
    ok = True
    for path in args.files:
        try:
            policy = read_policy_file(path)
        except PolicyError as err:
            ok = False
            print(err, file=sys.stderr)
            continue
        print(
            f"{path}: ok (policy {policy.name} v{policy.version}, {len(policy.levels)} levels, "
            f"priorities {', '.join(policy.targets)}"
            + (f"; plans {', '.join(policy.plan_names())}" if policy.plans else "")
            + ")"
        )
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``escalations`` command."""
    parser = argparse.ArgumentParser(
        prog="escalations",
        description="Durable SLA escalations for helpdesk tickets, on Temporal.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "dev",
        help="run a local Temporal server, its Web UI and a worker (the embedded default)",
    )
    p.add_argument("--port", type=int, default=dev.DEFAULT_PORT, help="gRPC port (7233)")
    p.add_argument("--ui-port", type=int, default=dev.DEFAULT_UI_PORT, help="Web UI port (8233)")
    p.add_argument(
        "--api-port",
        type=int,
        default=DEFAULT_API_PORT,
        help="HTTP API port, on loopback (8082)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=dev.DEFAULT_DATA_DIR,
        help="where the database and server log live (.data)",
    )
    p.add_argument(
        "--in-memory", action="store_true", help="keep no database: tickets are lost on exit"
    )
    p.set_defaults(handler=_dev)

    p = commands.add_parser("worker", help="run a worker against TEMPORAL_ADDRESS")
    p.set_defaults(handler=_worker)

    add_ticket_commands(commands)
    add_tickets_commands(commands)
    add_security_commands(commands)
    add_api_key_commands(commands)
    add_api_command(commands)
    add_schedule_commands(commands)
    add_slo_commands(commands)
    add_report_command(commands)
    add_channels_commands(commands)
    add_drill_command(commands)
    add_oncall_commands(commands)

    p = commands.add_parser(
        "bench", help="measure escalation lateness and throughput against the Temporal floor"
    )
    p.add_argument(
        "--tickets", type=positive_int, default=10_000, help="spread: thresholds (10000)"
    )
    p.add_argument(
        "--rate", type=positive_number, default=30.0, help="spread: thresholds per second (30)"
    )
    p.add_argument(
        "--storm", type=positive_int, default=1_000, help="storm: thresholds at once (1000)"
    )
    p.add_argument("--opens", type=positive_int, default=2_000, help="open: tickets opened (2000)")
    p.add_argument(
        "--sleeping",
        type=positive_int,
        default=4_000,
        help="memory: sleeping tickets opened (4000)",
    )
    p.add_argument(
        "--db", choices=["file", "memory"], default="file", help="embedded server database"
    )
    p.add_argument(
        "--address", help="a running Temporal server (host:port) instead of the embedded one"
    )
    p.add_argument("--quick", action="store_true", help="a small run of a minute or two (CI)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(handler=_bench)

    p = commands.add_parser("policy", help="work with escalation policy files")
    policy_commands = p.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    p = policy_commands.add_parser("check", help="validate policy files")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="policy YAML files")
    p.set_defaults(handler=_policy_check)
    add_policy_explain_command(policy_commands)
    add_policy_simulate_command(policy_commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``escalations`` command.

    Args:
        argv: Arguments without the program name; default ``sys.argv[1:]``.

    Returns:
        The process exit code.
    """
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            # What parse_args would say, but quoted: it echoes them raw, and a newline or a
            # terminal escape sequence in one would break the one-line error (or the terminal).
            parser.error(f"unrecognized arguments: {' '.join(map(repr, unknown))}")
    except SystemExit as exc:
        # argparse exits on --help and on usage errors; return its code so that callers
        # (and tests) get an exit code rather than an exception.
        return exc.code if isinstance(exc.code, int) else 2
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as err:
        print(f"escalations: configuration error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`escalations report | head`): the command did its work and
        # has nobody left to tell. Point stdout at /dev/null so the interpreter's final flush
        # does not raise again (as the Python docs on SIGPIPE advise).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
