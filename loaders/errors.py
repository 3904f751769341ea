"""The one error type every loader raises for bad input.

A :class:`LoaderError` always names the file, says what is wrong and what was expected, so that a
user who points the build at a truncated download or a re-saved spreadsheet knows what to fix.
"""

from __future__ import annotations

from pathlib import Path


class LoaderError(ValueError):
    """A source file could not be parsed as published.

    Attributes
    ----------
    path: the file (or URL) concerned.
    problem: what is wrong, in one sentence.
    expected: what the loader expected instead (columns, separator, encoding…), or ``None``.
    """

    def __init__(self, path: str | Path, problem: str, expected: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.expected = expected
        message = f"{self.path}: {problem}"
        if expected:
            message += f" (expected: {expected})"
        super().__init__(message)


class DownloadError(LoaderError):
    """An official file could not be downloaded and no cached copy exists."""
