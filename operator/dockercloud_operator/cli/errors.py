"""The CLI's errors: each is reported as one clear line, with exit code 1."""

from __future__ import annotations


class CliError(Exception):
    """A failure to report as one clear line, with exit code 1."""


class NotFound(CliError):
    """The service does not exist."""
