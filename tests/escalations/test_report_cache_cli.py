"""``escalations report`` with its cache of closed tickets: where it lives, ``--cache`` and
``--no-cache``, and a cached report that prints what an uncached one prints."""

from __future__ import annotations

import asyncio
import json
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from benchmarks.report_bench import seed_outcomes
from escalations.cli.main import main
from escalations.dev import DevServer, start_dev_server
from escalations.runtime.data_converter import data_converter
from reports.cache_file import FILE_NAME
from tests.e2e.processes import free_port
from tests.reports.outcomes import POLICY_YAML, RANGE, outcome

REPORT = ["report", "--from", RANGE[0].isoformat(), "--to", RANGE[1].isoformat()]


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    started = await start_dev_server(
        free_port(), free_port(), tmp_path_factory.mktemp("dev-server"), in_memory=True
    )
    yield started
    await started.stop()


@pytest.fixture
def environment(server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server and the report's policy; $XDG_CACHE_HOME, which is returned, in tmp_path."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "standard.yaml").write_text(POLICY_YAML, encoding="utf-8")
    monkeypatch.setenv("TEMPORAL_ADDRESS", server.address)
    monkeypatch.setenv("ESCALATIONS_POLICY_DIR", str(policies))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache"


async def _report(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    # The command runs its own event loop (asyncio.run): give it a thread of its own.
    code = await asyncio.to_thread(main, argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _figures(out: str) -> dict[str, object]:
    document: dict[str, object] = json.loads(out)
    document.pop("generated_at")
    return document


async def test_a_cached_report_prints_what_an_uncached_one_prints(
    server: DevServer, environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(server.address, data_converter=data_converter)
    items = [
        outcome(f"Q-{team}-{i}", team=team, opened_day=i, first=600.0 * i, resolved=False)
        for i in range(4)
    ]
    await seed_outcomes(client, items, concurrency=4)
    argv = [*REPORT, "--team", team, "--format", "json"]

    code, live, err = await _report([*argv, "--no-cache"], capsys)
    assert code == 0, err
    assert not await asyncio.to_thread(environment.exists), "--no-cache writes no file"
    code, first, err = await _report(argv, capsys)
    assert code == 0, err
    code, repeated, err = await _report(argv, capsys)
    assert code == 0, err
    assert _figures(first) == _figures(repeated) == _figures(live)
    assert json.loads(live)["total"]["opened"] == 4

    default = environment / "escalations" / FILE_NAME
    assert stat.S_IMODE((await asyncio.to_thread(default.stat)).st_mode) == 0o600
    assert stat.S_IMODE((await asyncio.to_thread(default.parent.stat)).st_mode) == 0o700


async def test_cache_puts_the_file_where_it_is_told(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = tmp_path / "elsewhere" / "reports.sqlite3"
    code, _, err = await _report([*REPORT, "--cache", str(chosen), "--format", "csv"], capsys)
    assert code == 0, err
    assert await asyncio.to_thread(chosen.exists)
    assert not await asyncio.to_thread(environment.exists)


def test_a_file_that_is_not_a_cache_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "thesis.db"
    mine.write_bytes(b"chapter one\n" * 1000)
    # Refused before connecting: no server is needed (nor reached) for this.
    code = main([*REPORT, "--cache", str(mine)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"escalations report: error: report cache {mine} is not a cache" in err
    assert "--no-cache" in err
    assert "Traceback" not in err
    assert mine.read_bytes() == b"chapter one\n" * 1000


def test_cache_and_no_cache_do_not_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*REPORT, "--cache", "x.sqlite3", "--no-cache"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
