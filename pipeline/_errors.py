"""Project exception classes: one line for the user, never a library traceback."""

from __future__ import annotations


class FiregapError(Exception):
    """Base class of every error the CLI reports as one line and exit code 2."""


class ConfigError(FiregapError, ValueError):
    """A province config is missing, malformed, or has a wrong or unknown key."""


class InputDataError(FiregapError, ValueError):
    """An input file is missing, corrupt, empty, in the wrong CRS or otherwise unusable."""


class MissingInputError(InputDataError, FileNotFoundError):
    """A required input file does not exist (the message says where to put it)."""


class ValidationError(FiregapError, ValueError):
    """An internal invariant failed (for example a graph without edge lengths)."""


class NoDataError(FiregapError, ValueError):
    """A stage has nothing to work on (for example no streets inside the boundary)."""


class StaleInputError(InputDataError):
    """An upstream artifact was not written by the run the manifest records (rerun its stage)."""


class WorkerError(FiregapError, RuntimeError):
    """Work handed to a worker process failed there, or the process died (killed, no memory)."""
