"""Errors a user can fix, and how the command lines report them: one line, non-zero exit."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable, Iterator


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


def run_stage(stage: Callable[[], str]) -> None:
    """A DVC stage's main: run it, turn a UserError into one line and exit 2, and end with the summary line
    it returns (what it wrote) and how long it took, on stderr."""
    start = time.perf_counter()
    with exit_on_error():
        done = stage()
    print(f"{done} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
