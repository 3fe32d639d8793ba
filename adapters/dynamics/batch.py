"""OData ``$batch`` bodies for Dataverse: build change sets of PATCHes, read the multipart answer.

Format per powerapps-docs "Execute batch operations using the Web API" (OData 4.0 §11.7): CRLF
line ends; each operation is an ``application/http`` part with ``Content-Transfer-Encoding:
binary``; a change set is a nested ``multipart/mixed`` part, applied atomically. The answer
mirrors it: a successful change set comes back as a nested multipart of ``204`` parts; a failed
one as a single ``application/http`` part with the error and the ``Content-ID`` that failed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CRLF = "\r\n"


@dataclass(frozen=True)
class Operation:
    content_id: str
    method: str
    path: str  # e.g. /api/data/v9.2/contacts(<id>)
    body: Mapping[str, Any]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class PartResponse:
    status: int
    content_id: str | None
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error_text(self) -> str:
        try:
            error = json.loads(self.body).get("error", {})
            return f"{error.get('code', '')} {error.get('message', '')}".strip()
        except (ValueError, AttributeError):
            return self.body[:300]


def _operation(op: Operation, *, in_changeset: bool) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if in_changeset:
        lines.append(f"Content-ID: {op.content_id}")
    lines += ["", f"{op.method} {op.path} HTTP/1.1", "Content-Type: application/json; type=entry"]
    lines += [f"{k}: {v}" for k, v in op.headers.items()]
    lines += ["", json.dumps(op.body)]
    return CRLF.join(lines)


def build_batch(changesets: Sequence[Sequence[Operation]], singles: Sequence[Operation] = ()) -> tuple[str, bytes]:
    """(Content-Type, body) of a batch with the given change sets, then standalone operations."""
    boundary = f"batch_{uuid.uuid4()}"
    chunks: list[str] = []
    for operations in changesets:
        inner = f"changeset_{uuid.uuid4()}"
        parts = "".join(f"--{inner}{CRLF}{_operation(op, in_changeset=True)}{CRLF}" for op in operations)
        chunks.append(f"--{boundary}{CRLF}Content-Type: multipart/mixed; boundary={inner}{CRLF}{CRLF}"
                      f"{parts}--{inner}--{CRLF}")
    for op in singles:
        chunks.append(f"--{boundary}{CRLF}{_operation(op, in_changeset=False)}{CRLF}")
    chunks.append(f"--{boundary}--{CRLF}")
    return f"multipart/mixed; boundary={boundary}", "".join(chunks).encode()


class BatchResponseError(ValueError):
    pass


def _boundary(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not match:
        raise BatchResponseError(f"Batch response without a multipart boundary (Content-Type '{content_type}').")
    return match.group(1)


def _parts(text: str, boundary: str) -> list[str]:
    pieces = text.split(f"--{boundary}")
    out = []
    for piece in pieces[1:]:
        if piece.startswith("--"):
            break
        out.append(piece.lstrip("\r\n"))
    return out


def _split_headers(text: str) -> tuple[dict[str, str], str]:
    normalised = text.replace("\r\n", "\n")
    head, _, rest = normalised.partition("\n\n")
    headers = {}
    for line in head.split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _http_response(part: str) -> PartResponse:
    part_headers, http = _split_headers(part)
    status_line, _, remainder = http.partition("\n")
    match = re.match(r"HTTP/\d\.\d\s+(\d{3})", status_line.strip())
    if not match:
        raise BatchResponseError(f"Unreadable status line in batch response: '{status_line[:80]}'.")
    _, body = _split_headers(remainder)
    return PartResponse(int(match.group(1)), part_headers.get("content-id"), body.strip())


def parse_batch_response(content_type: str, body: bytes) -> list[list[PartResponse] | PartResponse]:
    """Top-level items in order: a list for a committed change set, one response otherwise."""
    items: list[list[PartResponse] | PartResponse] = []
    for part in _parts(body.decode("utf-8", errors="replace"), _boundary(content_type)):
        headers, rest = _split_headers(part)
        nested = headers.get("content-type", "")
        if nested.lower().startswith("multipart/mixed"):
            items.append([_http_response(p) for p in _parts(rest, _boundary(nested))])
        else:
            items.append(_http_response(part))
    return items
