"""Deterministic orchestration only: one workflow class per module, with its message models."""
