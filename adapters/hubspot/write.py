"""Writing CEM values onto HubSpot contacts: ``batch/update``, 100 a call, partial failures isolated.

HubSpot answers 200 (all applied) or 207 with per-record errors; a 400 that names records fails
those, one that names none is split in halves until the bad record is found (depth <= 8).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput

from ..base import FieldUpdate, WriteResult
from ..errors import AdapterError, InvalidRequest, NotFound, RateLimited, TransientError, UnknownOption
from ..fields import FIELDS_BY_KEY
from . import mapping
from .client import HubSpotClient
from .consts import PLATFORM

WRITE_BATCH = 100  # batch/update inputs per call


class FieldWriter:
    def __init__(self, client: HubSpotClient) -> None:
        self.client = client

    def write(self, updates: Sequence[FieldUpdate]) -> WriteResult:
        result = WriteResult()
        merged: dict[str, dict[str, str]] = {}
        for update in updates:  # HubSpot rejects a batch naming one id twice: merge, later values win
            try:
                properties = self._format(update.values)
            except (ValueError, TypeError) as error:
                result.failed[str(update.contact_id)] = InvalidRequest(str(error), platform=PLATFORM)
                continue
            merged.setdefault(str(update.contact_id), {}).update(properties)
        pending = list(merged.items())
        for start in range(0, len(pending), WRITE_BATCH):
            chunk = pending[start:start + WRITE_BATCH]
            try:
                self._write_chunk(chunk, result)
            except AdapterError as error:
                if not result.succeeded:
                    raise  # nothing written yet: let the job layer retry or tell the admin
                for contact_id, _ in pending[start:]:
                    if contact_id not in result.succeeded:
                        result.failed.setdefault(contact_id, error)
                break
        return result

    def _format(self, values: Mapping[str, Any]) -> dict[str, str]:
        properties: dict[str, str] = {}
        for key, value in values.items():
            spec = FIELDS_BY_KEY.get(key)
            if spec is None:
                raise ValueError(f"Unknown CEM field '{key}'.")
            properties[mapping.property_name(spec)] = mapping.format_value(spec, value)
        return properties

    def _write_chunk(self, chunk: list[tuple[str, dict[str, str]]], result: WriteResult, depth: int = 0) -> None:
        """One batch/update; a 400 naming no record is split in halves to isolate the bad ones (depth <= 8)."""
        body = BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=cid, properties=props) for cid, props in chunk])
        try:
            result.calls += 1
            status, data = self.client.request(f"updating {len(chunk)} contacts", "crm.contacts.batch_api", "update",
                                               body)
        except (InvalidRequest, NotFound) as raised:
            error: AdapterError = raised
            if _invalid_option(getattr(raised, "body", {}) or {}) or "INVALID_OPTION" in str(raised):
                error = UnknownOption(str(raised), status=400, platform=PLATFORM)
                error.body = getattr(raised, "body", {})  # type: ignore[attr-defined]
            ids = {cid for cid, _ in chunk}
            named = _ids_in(getattr(error, "body", {}) or {}) & ids
            if named:
                for cid in named:
                    result.failed[cid] = error
                rest = [(cid, props) for cid, props in chunk if cid not in named]
                if rest and depth < 8:
                    self._write_chunk(rest, result, depth + 1)
                return
            if len(chunk) == 1 or depth >= 8:
                for cid, _ in chunk:
                    result.failed[cid] = error
                return
            middle = len(chunk) // 2
            self._write_chunk(chunk[:middle], result, depth + 1)
            self._write_chunk(chunk[middle:], result, depth + 1)
            return
        failed = _batch_errors(data.get("errors") or []) if status == 207 else {}
        for cid, error in failed.items():
            result.failed[cid] = error
        written = {str(r.get("id")) for r in data.get("results") or []}
        for cid, _ in chunk:
            if cid in failed:
                continue
            if cid in written or status == 200:
                result.succeeded.append(cid)
            else:
                result.failed[cid] = TransientError("HubSpot did not confirm this record in a multi-status answer.",
                                                    status=207, platform=PLATFORM)


def _ids_in(body: Mapping[str, Any]) -> set[str]:
    """Record ids a HubSpot error names in ``context.ids`` (top level or per error)."""
    found: set[str] = set()
    contexts = [body.get("context")] + [e.get("context") for e in body.get("errors") or [] if isinstance(e, dict)]
    for context in contexts:
        if isinstance(context, dict):
            found.update(str(i) for i in context.get("ids") or [])
    return found


def _invalid_option(error: Mapping[str, Any]) -> bool:
    """HubSpot's VALIDATION_ERROR for an enumeration value the property has no option for."""
    found = [str(e.get("code")) for e in error.get("errors") or [] if isinstance(e, dict)]
    return "INVALID_OPTION" in found or "INVALID_OPTION" in str(error.get("message") or "")


def _batch_errors(errors: Sequence[Mapping[str, Any]]) -> dict[str, AdapterError]:
    """Per-record errors of a 207 answer, typed so the job layer knows which to retry."""
    failed: dict[str, AdapterError] = {}
    for error in errors:
        category = str(error.get("category") or "")
        message = f"HubSpot: {category or 'error'}: {str(error.get('message') or '')[:300]}"
        typed: AdapterError
        if category == "OBJECT_NOT_FOUND":
            typed = NotFound(message, status=404, platform=PLATFORM)
        elif category in ("RATE_LIMITS", "LOCKED"):
            typed = RateLimited(message, retry_after=2.0, status=429, platform=PLATFORM)
        elif category in ("INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"):
            typed = TransientError(message, platform=PLATFORM)
        elif _invalid_option(error):
            typed = UnknownOption(message, status=400, platform=PLATFORM)
        else:
            typed = InvalidRequest(message, status=400, platform=PLATFORM)
        for cid in _ids_in({"context": error.get("context")}):
            failed[cid] = typed
    return failed
