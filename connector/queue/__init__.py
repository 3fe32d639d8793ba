"""The work queue: ``JobQueue`` and its parts (see ``jobqueue``), keys and job names (``keys``)."""

from .deliveries import DeliveryLog
from .jobqueue import JobQueue
from .keys import RECONCILE_ALL, QueueKeys
from .refreshes import REFRESH_BATCH, RefreshCoalescer
from .writes import WriteLedger

__all__ = ["RECONCILE_ALL", "REFRESH_BATCH", "DeliveryLog", "JobQueue", "QueueKeys", "RefreshCoalescer", "WriteLedger"]
