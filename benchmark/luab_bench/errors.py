"""User-facing errors.

Every problem a user can fix (bad name, bad file, missing directory) raises :class:`LuabError` with a
message that names the offending thing *and* the fix. The CLI turns it into a one-line message and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations


class LuabError(Exception):
    """An error caused by user input; ``str(err)`` is shown to the user verbatim."""


class ConfigError(LuabError):
    """A YAML recipe/protocol/submission file does not match its schema."""


class DataError(LuabError):
    """A data file (records, arrays, manifest) is missing, malformed or does not match its hash."""


class SignatureError(LuabError):
    """A result's signature is missing, malformed or does not match its content."""
