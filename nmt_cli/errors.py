"""The one exception type the CLI turns into a one-line message and exit code 1."""


class NMTError(Exception):
    """A user-facing failure: bad input, missing files, incompatible checkpoints."""
