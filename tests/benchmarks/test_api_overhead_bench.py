"""``python -m benchmarks.api_overhead`` runs end to end at a tiny size and prints both rows.

Nothing here asserts on a time: only that each row is measured, printed, and adds up.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from benchmarks import api_overhead

pytestmark = pytest.mark.e2e

# op, n, then client p50 p99 mean, API p50 p99 mean, added p50 p99 mean, CPU client API.
ROW = re.compile(r"^(open|update) +(\d+)((?: +[+-]?\d+\.\d+){11})$", re.MULTILINE)
# op, n, then the API's own time per call: p50 p99 max.
OWN = re.compile(r"^(open|update) +(\d+)((?: +\d+\.\d+){3})$", re.MULTILINE)


@pytest.mark.timeout(120)
async def test_a_tiny_run_prints_both_rows(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--tickets", "3", "--updates-per-ticket", "3", "--warmup", "1"]
    # In a thread: main runs its own event loop, and this test's loop is running here.
    code = await asyncio.to_thread(api_overhead.main, argv)
    out = capsys.readouterr().out
    assert code == 0, out
    rows = {m[1]: (int(m[2]), [float(x) for x in m[3].split()]) for m in ROW.finditer(out)}
    assert set(rows) == {"open", "update"}, out
    # Three opens per path; three updates on each of the six tickets, half on each path.
    assert rows["open"][0] == 3
    assert rows["update"][0] == 9
    for _, figures in rows.values():
        client, api, added, cpu = figures[0:3], figures[3:6], figures[6:9], figures[9:]
        assert all(value > 0 for value in client + api + cpu)
        for c, a, d in zip(client, api, added, strict=True):
            assert d == pytest.approx(a - c, abs=0.011)
    own = {m[1]: [float(x) for x in m[3].split()] for m in OWN.finditer(out)}
    assert set(own) == {"open", "update"}, out
    for op, (p50, p99, most) in own.items():
        # The API's own share is part of its end-to-end time, never more.
        assert 0 < p50 <= p99 <= most, op
        assert most <= rows[op][1][4] * 10, op  # below ten times the API's p99 end to end
    assert "target: at most 5 ms added at p99" in out
    assert "API connections opened: " in out
    assert "nproc" in out
    assert "temporalio" in out
