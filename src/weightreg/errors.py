"""Errors a user can fix, and how the command lines report them: one line, non-zero exit."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator


class UserError(ValueError):
    """Bad input: the message names the key or file, the bad value and what is allowed."""


class ConfigError(UserError):
    """A setting that cannot describe a valid run."""


class DataError(UserError):
    """A data file that is missing, damaged or does not match its config."""


@contextlib.contextmanager
def exit_on_error() -> Iterator[None]:
    try:
        yield
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
