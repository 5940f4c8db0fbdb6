"""Errors that the CLI turns into a one-line message and exit code 2."""


class UsageError(Exception):
    """Bad input from the user: the message says what was wrong and what is accepted."""


class WorkloadError(UsageError):
    """A user's workload that cannot run as written; the message names the file and what is expected."""


def unknown(kind: str, name: str, accepted: list[str] | tuple[str, ...]) -> UsageError:
    """An error for a name that is not one of `accepted`, listing the accepted ones."""
    return UsageError(f"unknown {kind} {name!r} (accepted: {', '.join(accepted)})")
