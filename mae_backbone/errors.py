"""Errors meant for the user: one clear message naming the file and the fix, no traceback."""
from __future__ import annotations


class UserFacingError(Exception):
    """An expected failure (bad input, wrong checkpoint, bad config). The CLI prints only the message."""


class BadInputError(UserFacingError):
    """A data file or folder that cannot be used as given."""


class CheckpointError(UserFacingError):
    """A checkpoint that does not fit the target model, or cannot be read safely."""


class ConfigError(UserFacingError):
    """A config or override that names an unknown key or has the wrong type."""
