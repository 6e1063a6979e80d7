"""Errors a user can cause, each carrying one line that says what, where and what to do."""


class KgtwinError(Exception):
    """Base of every error kgtwin reports to a user as one line (and an exit code)."""

    exit_code = 1


class ConfigError(KgtwinError):
    """The settings or the command line ask for something that cannot work."""

    exit_code = 2


class EngineUnavailable(KgtwinError):
    """The graph engine could not be started or reached."""

    exit_code = 3


class AuthenticationFailed(KgtwinError):
    """The graph engine refused the credentials."""

    exit_code = 3


class QueryError(KgtwinError):
    """A Cypher statement was rejected by the engine."""

    exit_code = 4


class ReadOnlyViolation(QueryError):
    """A write was attempted through a read-only session."""


class UnknownQuery(KgtwinError):
    """A named query that does not exist in queries/."""

    exit_code = 2
