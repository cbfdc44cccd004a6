"""The one error type for settings that cannot be used."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting (an environment variable, or a profile in the Temporal config file) with a
    value that cannot be used. The message names the setting and never quotes a secret."""
