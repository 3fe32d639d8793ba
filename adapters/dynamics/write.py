"""Writing CEM values onto Dataverse contacts: PATCHes in ``$batch`` requests (bodies from ``batch``).

Writes go through ``$batch`` with ``Prefer: odata.continue-on-error``, one change set per
``changeset_size`` PATCHes (default 100). A change set is atomic, so one bad record fails its
whole change set: the record named by the failed part's ``Content-ID`` is marked failed and the
other records of that change set are sent again as standalone parts (no change set) in one more
``$batch``, which isolates any further bad record precisely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from ..base import FieldUpdate, WriteResult, chunked
from ..errors import AdapterError, InvalidRequest, TransientError, UnknownOption
from ..fields import FIELDS_BY_KEY
from ..http import error_for_status
from .batch import BatchResponseError, Operation, PartResponse, build_batch, parse_batch_response
from .client import WebApiClient
from .consts import PLATFORM
from .mapping import ColumnNaming

MAX_BATCH_REQUESTS = 1000  # Dataverse: at most 1000 requests in one $batch


class FieldWriter:
    def __init__(self, client: WebApiClient, naming: ColumnNaming, settings: Mapping[str, Any]) -> None:
        self.client = client
        self.naming = naming
        self.changeset_size = max(1, min(MAX_BATCH_REQUESTS, int(settings.get("changeset_size") or 100)))
        # Microsoft advises modest batches with parallelism over huge batches (execution-time limit).
        self.batch_size = max(1, min(MAX_BATCH_REQUESTS, int(settings.get("batch_size") or 200)))
        self.parallel_batches = max(1, min(8, int(settings.get("parallel_batches") or 2)))
        self._batch_path = urlsplit(self.client.root).path

    def write(self, updates: Sequence[FieldUpdate]) -> WriteResult:
        result = WriteResult()
        operations: list[Operation] = []
        for update in updates:
            try:
                operations.append(self._operation(update, len(operations) + 1))
            except (ValueError, TypeError) as exc:
                result.failed[update.contact_id] = InvalidRequest(f"Cannot write CEM values: {exc}", platform=PLATFORM)
        batches = list(chunked(operations, self.batch_size))
        with ThreadPoolExecutor(max_workers=self.parallel_batches) as pool:
            for partial in pool.map(self._write_batch, batches):
                result.succeeded.extend(partial.succeeded)
                result.failed.update(partial.failed)
                result.calls += partial.calls
        return result

    def _operation(self, update: FieldUpdate, content_id: int) -> Operation:
        body: dict[str, Any] = {}
        for key, value in update.values.items():
            spec = FIELDS_BY_KEY.get(key)
            if spec is None:
                raise ValueError(f"unknown CEM field '{key}'")
            body[self.naming.logical_name(spec)] = self.naming.to_native(spec, value)
        # If-Match: * makes the PATCH an update only: never create a contact that was deleted meanwhile.
        return Operation(str(content_id), "PATCH", f"{self._batch_path}contacts({update.contact_id})", body,
                         {"If-Match": "*"})

    def _write_batch(self, operations: list[Operation]) -> WriteResult:
        result = WriteResult()
        changesets = list(chunked(operations, self.changeset_size))
        items = self._send_batch(changesets, (), result)
        retry: list[Operation] = []
        for operations_in_set, item in zip(changesets, items, strict=True):
            if isinstance(item, list):
                result.succeeded.extend(_contact_of(op) for op in operations_in_set)
                continue
            culprit = next((op for op in operations_in_set if op.content_id == item.content_id), None)
            if culprit is not None:
                result.failed[_contact_of(culprit)] = _part_error(item, _contact_of(culprit))
            # The others were only rolled back with the culprit: send them again on their own.
            retry.extend(op for op in operations_in_set if op is not culprit)
        if retry:
            for op, part in zip(retry, self._send_batch((), retry, result), strict=True):
                if isinstance(part, PartResponse) and part.ok:
                    result.succeeded.append(_contact_of(op))
                else:
                    error_part = part if isinstance(part, PartResponse) else part[0]
                    result.failed[_contact_of(op)] = _part_error(error_part, _contact_of(op))
        return result

    def _send_batch(self, changesets: Sequence[Sequence[Operation]], singles: Sequence[Operation],
                    result: WriteResult) -> list[list[PartResponse] | PartResponse]:
        content_type, body = build_batch(changesets, singles)
        response = self.client.request("POST", "$batch", data=body, describe="write CEM values ($batch)", headers={
            "Content-Type": content_type, "Prefer": "odata.continue-on-error"})
        result.calls += 1
        try:
            items = parse_batch_response(response.headers.get("Content-Type", ""), response.content)
        except BatchResponseError as exc:
            raise TransientError(f"Unreadable $batch response: {exc}", platform=PLATFORM) from exc
        expected = len(changesets) + len(singles)
        if len(items) != expected:
            raise TransientError(f"$batch answered {len(items)} parts for {expected} requests.", platform=PLATFORM)
        return items


def _contact_of(operation: Operation) -> str:
    return operation.path.rsplit("(", 1)[1].rstrip(")")


def _part_error(part: PartResponse, contact_id: str) -> AdapterError:
    text = part.error_text()
    if part.status == 400 and "outside the valid range" in text and "_cem" in text:
        # Dataverse's answer to a choice value the column's option set lacks (error 0x8004431A)
        return UnknownOption(f"contact {contact_id}: HTTP 400 {text}", status=400, platform=PLATFORM)
    return error_for_status(part.status, f"contact {contact_id}: HTTP {part.status} {part.error_text()}",
                            platform=PLATFORM)
