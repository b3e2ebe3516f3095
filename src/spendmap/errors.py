"""Errors users can act on. The CLI turns these into one paragraph on stderr and an exit code."""

from __future__ import annotations


class SpendmapError(Exception):
    """Base class: a problem explained in plain words, with the exit code the contract gives it."""

    exit_code = 1


class InputError(SpendmapError):
    """Bad input (unreadable file, missing columns, unknown council or year): exit code 2."""

    exit_code = 2


class DownloadError(SpendmapError):
    """A download failed after retries: exit code 3."""

    exit_code = 3
