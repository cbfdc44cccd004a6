"""The ``escalations`` command: policy checks, argument errors, and tickets end to end."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from escalations.cli.main import main
from escalations.dev import start_dev_server
from escalations.runtime.config import Settings
from escalations.runtime.connection import connect
from policies.loader import default_policy_dir
from tests.escalations.test_client import WorkerQueue, ticket_worker
from workflows.search_attributes import ALL_KEYS
from workflows.ticket_messages import TicketStatus

BROKEN_CLOCK = """\
name: broken
version: 3
targets:
  P1: {first_response: 15m, resolution: 4h}
levels:
  - name: response-at-risk
    when: {clock: first_reply, at: 75%}
    notify: [assignee]
"""

OPEN_ARGS = [
    "ticket",
    "open",
    "--title",
    "Checkout down",
    "--priority",
    "P1",
    "--team",
    "payments",
    "--customer",
    "Acme",
    "--requester",
    "buyer@example.com",
]


# -- policy check ------------------------------------------------------------------------------


def test_policy_check_accepts_the_shipped_policies(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = [default_policy_dir() / "default.yaml", default_policy_dir() / "demo.yaml"]
    assert main(["policy", "check", *map(str, shipped)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"{shipped[0]}: ok (policy default v4, 6 levels, priorities P1, P2, P3, P4)")
    assert out[1].startswith(f"{shipped[1]}: ok (policy demo v")


def test_policy_check_names_file_and_field_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_CLOCK, encoding="utf-8")
    good = default_policy_dir() / "default.yaml"
    assert main(["policy", "check", str(good), str(broken)]) == 1
    captured = capsys.readouterr()
    assert f"{good}: ok" in captured.out
    assert f"{broken}: invalid policy:" in captured.err
    assert "levels.0.when.clock:" in captured.err
    assert "first_response" in captured.err


def test_policy_check_reports_bad_yaml_and_missing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: [unclosed\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    assert main(["policy", "check", str(bad_yaml), str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"{bad_yaml}: invalid policy:" in err
    assert "not valid YAML at line" in err
    assert f"{missing}: invalid policy:" in err
    assert "cannot read the file" in err


# -- argument errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(
            ["ticket", "open", "--id", "T-1", *OPEN_ARGS[2:-1], "x"],
            "--requester: 'x' is not an email address",
            id="bad-email",
        ),
        pytest.param(
            ["ticket", "open", "--id", "T 1", *OPEN_ARGS[2:]],
            "--id: 'T 1' must be 1-64 letters",
            id="bad-ticket-id",
        ),
        pytest.param(
            ["ticket", "open", "--id", "T-1", *OPEN_ARGS[2:-2]],
            "the following arguments are required: --requester",
            id="missing-flag",
        ),
        pytest.param(
            ["ticket", "open", "--id", "T-1", *OPEN_ARGS[2:], "--opened-at", "2024-05-01T09:30"],
            "argument --opened-at: '2024-05-01T09:30' has no timezone: add Z",
            id="naive-opened-at",
        ),
        pytest.param(
            ["ticket", "ack", "T-1", "--by", "Ann", "--at", "2024-05-01 09:30"],
            "argument --at: '2024-05-01 09:30' has no timezone: add Z for UTC or an offset "
            "such as +02:00",
            id="naive-at",
        ),
        pytest.param(
            ["ticket", "ack", "T-1", "--by", "Ann", "--at", "yesterday"],
            "argument --at: 'yesterday' is not an ISO 8601 date and time",
            id="not-a-datetime",
        ),
        pytest.param(
            ["ticket", "impact", "T-1"],
            "give --affected-users, --critical-service or both",
            id="impact-without-figures",
        ),
        pytest.param(
            ["ticket", "impact", "T-1", "--critical-service", "maybe"],
            "argument --critical-service: 'maybe': use true or false",
            id="not-a-bool",
        ),
        pytest.param(
            ["ticket", "reassign", "T-1", "--assignee", "bob"],
            "--assignee: 'bob' is not an email address",
            id="bad-assignee",
        ),
        pytest.param(["ticket", "status", "../x"], "ID: '../x' must be", id="bad-positional-id"),
        pytest.param(["ticket", "priority", "T-1", "urgent!"], "PRIORITY: ", id="bad-priority"),
        pytest.param(
            ["ticket", "attributes", "T-1"], "give --tag, --attribute or both", id="no-attributes"
        ),
        pytest.param(
            ["ticket", "attributes", "T-1", "--attribute", "tier"],
            "--attribute: 'tier' is not NAME=VALUE",
            id="attribute-without-value",
        ),
        pytest.param(
            ["ticket", "attributes", "T-1", "--attribute", "Tier=gold"],
            "--attribute: 'Tier' must be 1-64 lowercase letters",
            id="bad-attribute-name",
        ),
        pytest.param(
            ["ticket", "attributes", "T-1", "--tag", "two words"],
            "--tag: 'two words' must be 1-64 letters",
            id="bad-tag",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_flag(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert captured.out == ""


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ticket", "open", "--help"]) == 0
    assert "--requester" in capsys.readouterr().out


def test_unreachable_server_exits_1_naming_the_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    assert main(["ticket", "status", "T-1"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach Temporal at 127.0.0.1:1 (TEMPORAL_ADDRESS)" in err
    assert "escalations dev" in err


def test_unusable_setting_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ESCALATIONS_STICKY_QUEUE_TIMEOUT", "soon")
    assert main(["ticket", "status", "T-1"]) == 2
    assert "ESCALATIONS_STICKY_QUEUE_TIMEOUT='soon'" in capsys.readouterr().err


# -- tickets end to end, against the time-skipping server ---------------------------------------


@pytest.fixture
async def cli_env(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[WorkerQueue]:
    """Point the CLI's settings at the test server and a worker of this test's own."""
    async with ticket_worker(time_skipping_env.client, tmp_path) as queue:
        address = time_skipping_env.client.service_client.config.target_host
        monkeypatch.setenv("TEMPORAL_ADDRESS", address)
        monkeypatch.setenv("ESCALATIONS_TASK_QUEUE", queue.task_queue)
        yield queue


async def _cli(*argv: str) -> int:
    # main() runs its own event loop; a thread keeps this test's loop (and the worker) running.
    return await asyncio.to_thread(main, list(argv))


async def test_ticket_commands_print_status(
    cli_env: WorkerQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    ticket_id = cli_env.new_ticket_id()
    assert await _cli(*OPEN_ARGS, "--id", ticket_id, "--assignee", "ann@example.com") == 0
    out = capsys.readouterr().out
    assert f"Ticket {ticket_id} [P1] open: Checkout down" in out
    assert "first_response  due " in out
    assert "Escalations: none yet" in out

    assert await _cli("ticket", "ack", ticket_id, "--by", "Ann") == 0
    assert "acknowledged" in capsys.readouterr().out

    assert await _cli("ticket", "status", ticket_id, "--json") == 0
    status = TicketStatus.model_validate_json(capsys.readouterr().out)
    assert status.acknowledged_by == "Ann"
    assert json.loads(status.model_dump_json())["ticket_id"] == ticket_id

    assert await _cli("ticket", "resume", ticket_id) == 1
    err = capsys.readouterr().err
    assert f"ticket {ticket_id} rejected resume: resume: the ticket is not paused" in err

    assert await _cli("ticket", "resolve", ticket_id, "--by", "Bob", "--note", "fixed") == 0
    assert "resolved" in capsys.readouterr().out


async def test_ticket_open_failures_exit_1(
    cli_env: WorkerQueue, capsys: pytest.CaptureFixture[str]
) -> None:
    ticket_id = cli_env.new_ticket_id()
    args = [*OPEN_ARGS, "--id", ticket_id]
    assert await _cli(*args) == 0
    capsys.readouterr()
    assert await _cli(*args) == 1
    assert f"ticket {ticket_id} is already open" in capsys.readouterr().err

    other = cli_env.new_ticket_id()
    assert await _cli(*OPEN_ARGS, "--id", other, "--policy", "nowhere") == 1
    err = capsys.readouterr().err
    assert f"ticket {other} failed to open" in err
    assert "no policy named 'nowhere'" in err

    assert await _cli("ticket", "status", cli_env.new_ticket_id()) == 1
    assert "not found" in capsys.readouterr().err


# -- escalations dev ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dev_refuses_a_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["dev", "--port", str(port), "--ui-port", str(_free_port())]
        assert main([*argv, "--data-dir", str(tmp_path), "--in-memory"]) == 1
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "--port" in err


@pytest.mark.e2e
def test_dev_refuses_an_api_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["dev", "--port", str(_free_port()), "--ui-port", str(_free_port())]
        argv += ["--api-port", str(port), "--data-dir", str(tmp_path), "--in-memory"]
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--api-port {port}: cannot listen on it" in err


def test_api_refuses_half_a_tls_pair(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api", "--tls-cert", "cert.pem"]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err


def test_api_refuses_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["api", "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_api_refuses_a_broken_mapping_naming_file_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "github.yaml").write_text(
        "source: github\nsecret: {env: GH}\nticket_id_prefix: GH-\n"
        "default_priority: P9\ndefault_team: support\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ESCALATIONS_INTAKE_DIR", str(tmp_path))
    assert main(["api", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "the github mapping: default_priority: priority 'P9' is not defined" in err


@pytest.mark.e2e
async def test_dev_server_starts_with_search_attributes_and_stops(tmp_path: Path) -> None:
    server = await start_dev_server(_free_port(), _free_port(), tmp_path, in_memory=True)
    try:
        assert server.ui_url.startswith("http://127.0.0.1:")
        client = await connect(Settings(temporal_address=server.address))
        registered = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert {key.name for key in ALL_KEYS} <= set(registered.custom_attributes)
    finally:
        await server.stop()
    assert server.process.returncode is not None
    assert not (tmp_path / "temporal.db").exists()


@pytest.mark.parametrize(
    ("flag", "value", "kind"),
    [
        ("--tickets", "-3", "a whole number"),
        ("--tickets", "1.5", "a whole number"),
        ("--rate", "abc", "a number"),
        ("--storm", "0", "a whole number"),
    ],
)
def test_bench_refuses_sizes_that_are_not_positive(
    flag: str, value: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", flag, value]) == 2
    assert f"argument {flag}: '{value}' is not {kind} above zero" in capsys.readouterr().err


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    # `escalations ... | head`: the pipe closes before the output is written.
    script = (
        "import sys\n"
        "from escalations.cli.main import main\n"
        "raise SystemExit(main(['policy', 'check', 'policies/default.yaml']))\n"
    )
    reader, writer = os.pipe()
    os.close(reader)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(writer)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
