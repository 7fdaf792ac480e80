"""Errors a user can fix: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""
