"""``escalations report --format json`` on a real dev server gives the exact figures.

The tickets are stand-ins (``benchmarks.report_bench.seed_outcomes``): closed workflows of type
``TicketEscalation`` carrying a known ``sla_outcome`` memo and search attributes, so the test
checks reading, filtering and figures without waiting on real SLA clocks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid

import pytest
from temporalio.client import Client

from benchmarks.report_bench import seed_outcomes
from escalations.cli.main import main
from escalations.runtime.encryption import EncryptionCodec, generate_key
from tests.e2e.processes import DevServer
from tests.reports.outcomes import POLICY_YAML, RANGE, outcome, pause


async def test_report_json_from_visibility(
    dev_server: DevServer,
    client: Client,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = uuid.uuid4().hex[:8]
    team = f"team-{run}"
    items = [
        outcome(f"R-{run}-1", team=team, first=1800, resolution=7200, resolved=True, csat=4),
        outcome(
            f"R-{run}-2",
            team=team,
            opened_day=1,
            first=4000,
            resolution=3000,
            resolved=True,
            escalations={"response-breached": 1},
            pauses=[pause(30, after_customer_reply=True)],
            paused_seconds=108000,
        ),
        outcome(f"R-{run}-3", team=team, priority="P2", opened_day=2, first=600),
        # Another team: filtered out by --team.
        outcome(f"R-{run}-4", team=f"other-{run}", first=1),
    ]
    await seed_outcomes(client, items, concurrency=4)
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "standard.yaml").write_text(POLICY_YAML, encoding="utf-8")
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("ESCALATIONS_POLICY_DIR", str(policies))
    capsys.readouterr()

    argv = ["report", "--from", RANGE[0].isoformat(), "--to", RANGE[1].isoformat()]
    # The command runs its own event loop (asyncio.run): give it a thread of its own.
    code = await asyncio.to_thread(
        main, [*argv, "--team", team, "--format", "json", "--group-by", "priority"]
    )
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    total = document["total"]
    assert (total["opened"], total["resolved"], total["reopened"]) == (3, 2, 0)
    assert total["first_response"] == {
        "count": 3,
        "mean": (1800 + 4000 + 600) / 3,
        "p50": 1800.0,
        "p90": 4000.0,
        "p99": 4000.0,
    }
    assert total["breaches"] == {"first_response": 1, "resolution": 0, "next_reply": 0}
    assert total["escalations"] == {"response-breached": 1}
    assert total["csat"] == {"responses": 1, "mean": 4.0, "response_rate": 0.5}
    assert total["paused"]["total_seconds"] == 108000
    p1, p2 = document["groups"]
    first = next(a for a in p1["attainment"] if a["key"] == "P1-first_response")
    assert (first["measured"], first["met"], first["attainment"]) == (2, 1, 0.5)
    assert first["error_budget_left"] == 1 - 1 / ((1 - 90 / 100) * 2)
    assert p2["attainment"][0]["measured"] == 1
    assert document["bottlenecks"]["paused_after_customer_reply"] == 1
    assert document["unknown_policies"] == []


async def test_encrypted_outcomes_without_keys_say_which_setting_is_missing(
    dev_server: DevServer,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = uuid.uuid4().hex[:8]
    team = f"sealed-{run}"
    sealed = Client(
        client.service_client,
        namespace=client.namespace,
        data_converter=dataclasses.replace(
            client.data_converter, payload_codec=EncryptionCodec([generate_key()])
        ),
    )
    await seed_outcomes(sealed, [outcome(f"E-{run}-1", team=team, first=60)], concurrency=1)
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    capsys.readouterr()

    argv = ["report", "--from", RANGE[0].isoformat(), "--to", RANGE[1].isoformat()]
    code = await asyncio.to_thread(main, [*argv, "--team", team])
    err = capsys.readouterr().err
    assert code == 1
    assert "encrypted and this process holds no encryption keys" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("flag", ["--team", "--priority", "--customer", "--policy"])
def test_a_quote_in_a_filter_is_refused_naming_its_flag(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", flag, "o'brien"])
    assert code == 2
    assert f"error: {flag}: " in capsys.readouterr().err
