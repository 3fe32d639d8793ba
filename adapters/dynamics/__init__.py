"""Microsoft Dynamics 365 / Dataverse: the Web API v9.2 with Entra ID tokens (see ``adapter``)."""

from .adapter import DynamicsAdapter

__all__ = ["DynamicsAdapter"]
