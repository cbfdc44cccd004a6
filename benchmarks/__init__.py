"""Benchmarks of the project's hot paths; each module runs with ``python -m benchmarks.NAME``."""
