"""Everything around the workflows: how people and services reach tickets, and how the worker
runs. One room per job:

- ``cli/``: the ``escalations`` command (tickets, reports, SLO, schedules, security tools).
- ``client/``: the Python client library other services use (:class:`TicketClient`), bulk
  updates and the SLO schedules.
- ``runtime/``: what a process needs to talk to Temporal: settings, connection, data converter,
  payload encryption, telemetry, logging, the worker's interceptor and the worker itself.
- ``codec/``: the codec server the Temporal Web UI decrypts payloads through.
- ``bench/``: the throughput and latency benchmark and the bare-Temporal floor it compares to.
- ``testing/``: loopback fakes of the SaaS providers, shared by tests, benchmarks and
  ``escalations dev``.
- ``dev.py``: ``escalations dev``, the embedded default (dev server, worker, Web UI).

Lower layers never import these: ``policies`` imports nothing of ours, and ``workflows`` and
``activities`` import nothing from here (``tests/test_layering.py``).
"""
