"""One exception root for the service (``connector``), with typed subclasses.

The CLI turns any ``ConnectorError`` into a message and exit code 1; web handlers map the ones a
caller can cause to 4xx/503. Messages say what to do.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of every error the service itself raises."""


class SettingsError(ConnectorError):
    """A setting (environment variable) is missing or malformed; the message says which and how to fix it."""


class CryptoError(ConnectorError):
    """Stored secrets cannot be encrypted or decrypted with CEM_SECRET_KEY."""


class QueueUnavailable(ConnectorError):
    """Redis cannot be reached; receivers answer 503 so the CRM retries later."""


class UnknownPlatform(ConnectorError, KeyError):
    """No platform of that name in the registry."""


class ConnectionNotFound(ConnectorError, LookupError):
    """No connection with that id (or the connection is gone)."""


class QueueUrlError(SettingsError):
    """REDIS_URL is not a Redis URL."""


class StoreError(ConnectorError):
    """The database cannot be used; every message says what is wrong and what to do."""


class SchemaNotMigrated(StoreError):
    """The database is behind this version's migrations; the message names the command that fixes it."""


class DatabaseUrlError(StoreError):
    """DATABASE_URL cannot be used: not a URL, an unknown database, or its driver is not installed."""


class DatabaseUnreachable(StoreError):
    """The database refused or did not answer."""
