"""Tests of the benchmarks: they run and report, whatever the machine's speed."""
