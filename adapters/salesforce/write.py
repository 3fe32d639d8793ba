"""Writing CEM values onto Salesforce Contacts/Leads: sObject Collections, 200 records a call.

``PATCH composite/sobjects`` with ``allOrNone: false`` answers one SaveResult per record; locked or
busy records are retried in place a couple of times, other failures become typed errors per record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ..base import FieldUpdate, WriteResult, chunked
from ..errors import (
    AdapterError,
    ConfigurationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    TransientError,
    UnknownOption,
)
from ..fields import FIELDS_BY_KEY
from .client import SalesforceClient
from .consts import COLLECTION_LIMIT, OBJECT_PREFIXES, PLATFORM
from .mapping import native_name, to_salesforce

RETRYABLE_RECORD_ERRORS = {"UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG", "SERVER_UNAVAILABLE"}
NOT_FOUND_RECORD_ERRORS = {"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID", "INVALID_ID_FIELD",
                           "NOT_FOUND"}
CONFIG_RECORD_ERRORS = {"INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE", "INVALID_TYPE"}
PERMISSION_RECORD_ERRORS = {"INSUFFICIENT_ACCESS_OR_READONLY", "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
                            "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"}
WRITE_RETRY_DELAYS = (0.5, 1.5)  # in-place retries of locked records before handing them to the job layer


class FieldWriter:
    def __init__(self, client: SalesforceClient, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.sleep = sleep

    def write(self, updates: Sequence[FieldUpdate]) -> WriteResult:
        result = WriteResult()
        for chunk in chunked(list(updates), COLLECTION_LIMIT):
            pending = list(chunk)
            for attempt in range(len(WRITE_RETRY_DELAYS) + 1):
                retry = self._write_chunk(pending, result)
                if not retry:
                    break
                if attempt == len(WRITE_RETRY_DELAYS):
                    result.failed.update(retry)
                    break
                self.sleep(WRITE_RETRY_DELAYS[attempt])
                pending = [u for u in pending if u.contact_id in retry]
        return result

    def _record(self, update: FieldUpdate) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": OBJECT_PREFIXES.get(str(update.contact_id)[:3], "Contact")},
                                  "id": update.contact_id}
        for key, value in update.values.items():
            spec = FIELDS_BY_KEY.get(key)
            if spec is not None:
                record[native_name(spec)] = to_salesforce(spec, value)
        return record

    def _write_chunk(self, updates: Sequence[FieldUpdate], result: WriteResult) -> dict[str, AdapterError]:
        """One composite call; records successes and final failures, returns the ones worth retrying now."""
        payload = {"allOrNone": False, "records": [self._record(u) for u in updates]}
        answers = self.client.rest("composite/sobjects", method="PATCH", json=payload,
                                   describe="write CEM fields (composite/sobjects)")
        result.calls += 1
        if not isinstance(answers, list) or len(answers) != len(updates):
            raise TransientError("Salesforce answered the collection update with an unexpected shape.",
                                 platform=PLATFORM)
        retry: dict[str, AdapterError] = {}
        for update, answer in zip(updates, answers, strict=True):
            if answer.get("success"):
                result.succeeded.append(update.contact_id)
                continue
            error = record_error(update.contact_id, answer.get("errors") or [])
            if isinstance(error, TransientError):
                retry[update.contact_id] = error
            else:
                result.failed[update.contact_id] = error
        return retry


def record_error(contact_id: str, errors: Sequence[dict[str, Any]]) -> AdapterError:
    """A failed SaveResult (``{"statusCode", "message", "fields"}``) as the error the job layer acts on."""
    first = errors[0] if errors else {}
    code = str(first.get("statusCode") or "UNKNOWN")
    text = f"Salesforce refused the write to {contact_id}: {code}: {first.get('message', '')}"
    error: AdapterError
    if code in RETRYABLE_RECORD_ERRORS:
        error = TransientError(text + " (the record was locked or busy; retried later)", platform=PLATFORM)
    elif code in NOT_FOUND_RECORD_ERRORS:
        error = NotFound(text + " (the contact was deleted or merged)", platform=PLATFORM)
    elif code in CONFIG_RECORD_ERRORS:
        error = ConfigurationError(text + " - run 'cem-connector install salesforce' and check the CEM Connector "
                                   "permission set is assigned to the integration user.", platform=PLATFORM)
    elif code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST":
        error = UnknownOption(text, platform=PLATFORM)
    elif code in PERMISSION_RECORD_ERRORS:
        error = PermissionDenied(text + " - the integration user cannot edit this record (sharing, validation "
                                 "or a trigger refused it).", platform=PLATFORM)
    else:
        error = InvalidRequest(text, platform=PLATFORM)
    error.sf_code = code  # type: ignore[attr-defined]
    return error
