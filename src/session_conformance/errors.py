"""The one error a user sees as a single readable line (a wrong option, an unusable target)."""

from __future__ import annotations


class UsageError(Exception):
    """A wrong option value or an unusable target: reported as one line, without a traceback."""
