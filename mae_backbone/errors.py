"""Errors meant for the user: one clear message naming the file and the fix, no traceback."""

from __future__ import annotations

import re

# torch's DataLoader re-raises a worker's exception as `type(err)(text)`, with the worker's whole traceback
# in `text`: "Caught X in DataLoader worker process N.\nOriginal Traceback ...\n<module>.X: <message>".
_WORKER = re.compile(r"Caught (\w+) in DataLoader worker process \d+\.\nOriginal Traceback[^\n]*\n")


def _original_message(text: str) -> str:
    """The message a worker raised, without the traceback torch wrapped around it (other text unchanged)."""
    wrapped = _WORKER.match(text)
    if wrapped is None:
        return text
    rest = text[wrapped.end() :]
    last = re.search(rf"^(?:[\w.]+\.)?{wrapped.group(1)}: ", rest, re.M)
    return rest[last.end() :].rstrip("\n") if last else text


class UserFacingError(Exception):
    """An expected failure (bad input, wrong checkpoint, bad config). The CLI prints only the message."""

    def __init__(self, *args: object):
        if len(args) == 1 and isinstance(args[0], str):
            args = (_original_message(args[0]),)
        super().__init__(*args)


class BadInputError(UserFacingError):
    """A data file or folder that cannot be used as given."""


class CheckpointError(UserFacingError):
    """A checkpoint that does not fit the target model, or cannot be read safely."""


class ConfigError(UserFacingError):
    """A config or override that names an unknown key or has the wrong type."""


def is_interrupt(err: BaseException) -> bool:
    """Whether `err` is a Ctrl-C, also when a library caught it and raised another error from it.

    mmengine formats a config with a bare `except:` that turns a KeyboardInterrupt landing there (every
    checkpoint save formats it) into "SyntaxError: Failed to format the config file": a Ctrl-C would be
    reported as a broken config, and a suite would go on to its next stage.
    """
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False
