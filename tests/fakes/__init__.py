"""Loopback fakes of the notification providers (Slack, PagerDuty, Teams Workflows and a
Standard Webhooks receiver), for tests.

Each is real HTTP on 127.0.0.1, validates every request against the provider's published
specification (copies under ``tests/data/vendor/``), answers as the provider does and records
what it got. The shared server machinery is in ``tests.fakes.loopback``.
"""
