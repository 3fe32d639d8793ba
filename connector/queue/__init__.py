"""The work queue: ``JobQueue`` and its parts (see ``jobqueue``), keys and job names (``keys``)."""

from .deliveries import DeliveryLog
from .jobqueue import JobQueue
from .keys import QueueKeys
from .refreshes import REFRESH_BATCH, RefreshCoalescer
from .writes import WriteLedger

__all__ = ["REFRESH_BATCH", "DeliveryLog", "JobQueue", "QueueKeys", "RefreshCoalescer", "WriteLedger"]
