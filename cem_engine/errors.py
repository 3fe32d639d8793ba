"""Exceptions of the CEM engine; everything it raises derives from ``CEMEngineError``."""

from __future__ import annotations


class CEMEngineError(Exception):
    """Root of every error the engine raises."""


class ConfigError(CEMEngineError):
    """The engine configuration (TOML) is unreadable or invalid."""


class ExchangeError(CEMEngineError):
    """A line of the exchange JSONL format is invalid; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


class StateError(CEMEngineError):
    """A persisted ``ContactState`` cannot be used (other version or other engine config)."""
