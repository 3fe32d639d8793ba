"""Dynamics 365 / Dataverse facts the adapter, the receiver and the tests share; each is written here once."""

from __future__ import annotations

from ..fields import NAMESPACE

PLATFORM = "dynamics"
DEFAULT_PREFIX = NAMESPACE  # publisher prefix of the CEM columns (cem_cemjourneystage ...), configurable
APPLICATION_USER_SETTING = "application_user_id"  # changes made by this user are the connector's own
