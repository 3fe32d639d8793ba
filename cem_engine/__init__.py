"""The CEM engine: pure, deterministic analysis of a customer's interactions.

Entry points: ``analyze`` (a whole history at once) and the incremental ``new_state`` / ``update`` /
``snapshot``, which give the same Profile. Only stdlib and vaderSentiment; no network, no database.
"""

from .config import EngineConfig, load_config
from .engine import analyze, snapshot
from .errors import CEMEngineError, ConfigError, ExchangeError, StateError
from .model import (
    CEM_FIELD_KEYS,
    CHURN_REASONS,
    EMOTIONS,
    JOURNEY_STAGES,
    ContactFacts,
    ContactInput,
    Deal,
    Interaction,
    Profile,
)
from .state import ContactState, new_state, update

__all__ = [
    "CEM_FIELD_KEYS", "CHURN_REASONS", "EMOTIONS", "JOURNEY_STAGES",
    "CEMEngineError", "ConfigError", "ContactFacts", "ContactInput", "ContactState", "Deal", "EngineConfig",
    "ExchangeError", "Interaction", "Profile", "StateError", "analyze", "load_config", "new_state", "snapshot",
    "update",
]
