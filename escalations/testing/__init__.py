"""Loopback fakes of the SaaS providers (real HTTP on 127.0.0.1), for tests, benchmarks and
``escalations dev`` without an API key."""
