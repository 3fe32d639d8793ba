"""The CEM engine: pure, deterministic analysis of a customer's interactions."""

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

__all__ = [
    "CEM_FIELD_KEYS", "CHURN_REASONS", "EMOTIONS", "JOURNEY_STAGES",
    "ContactFacts", "ContactInput", "Deal", "Interaction", "Profile",
]
