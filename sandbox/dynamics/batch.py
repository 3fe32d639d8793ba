"""OData ``$batch`` (multipart/mixed) for the Dataverse sandbox: read requests, write responses.

Shapes follow powerapps-docs "Execute batch operations using the Web API": parts are
``application/http`` with ``Content-Transfer-Encoding: binary``; change sets are nested
``multipart/mixed`` parts; responses use ``batchresponse_`` / ``changesetresponse_`` boundaries.
A failed change set is answered by one ``application/http`` part carrying the error (and the
``Content-ID`` of the request that failed), because the whole change set was rolled back.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

CRLF = "\r\n"


class BatchFormatError(ValueError):
    pass


@dataclass
class InnerRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class InnerResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes = b""
    content_id: str | None = None


@dataclass
class BatchItem:
    """Either one request or a change set (a list of requests applied atomically)."""

    request: InnerRequest | None = None
    changeset: list[InnerRequest] = field(default_factory=list)

    @property
    def is_changeset(self) -> bool:
        return self.request is None


def boundary_of(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not match or not content_type.lower().startswith("multipart/mixed"):
        raise BatchFormatError("Content-Type must be multipart/mixed with a boundary.")
    return match.group(1)


def _split(body: str, boundary: str) -> list[str]:
    delimiter = f"--{boundary}"
    if delimiter not in body:
        raise BatchFormatError(f"Boundary '{boundary}' not found in the batch body.")
    chunks = body.split(delimiter)
    parts: list[str] = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break  # the closing delimiter
        parts.append(chunk.lstrip("\r\n"))
    return parts


def _headers_and_rest(text: str) -> tuple[dict[str, str], str]:
    normalised = text.replace("\r\n", "\n")
    head, _, rest = normalised.partition("\n\n")
    headers: dict[str, str] = {}
    for line in head.split("\n"):
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _inner_request(part: str) -> InnerRequest:
    part_headers, http = _headers_and_rest(part)
    if part_headers.get("content-type", "").split(";")[0].strip().lower() != "application/http":
        raise BatchFormatError("Each batch part must have Content-Type: application/http.")
    http = http.replace("\r\n", "\n")
    request_line, _, remainder = http.partition("\n")
    pieces = request_line.split()
    if len(pieces) < 2:
        raise BatchFormatError(f"Malformed request line in batch part: '{request_line[:80]}'.")
    headers, body = _headers_and_rest(remainder)
    return InnerRequest(pieces[0].upper(), pieces[1], headers, body.strip().encode(),
                        part_headers.get("content-id") or headers.get("content-id"))


def parse_batch(body: bytes, content_type: str) -> list[BatchItem]:
    text = body.decode("utf-8")
    items: list[BatchItem] = []
    for part in _split(text, boundary_of(content_type)):
        headers, rest = _headers_and_rest(part)
        part_type = headers.get("content-type", "")
        if part_type.lower().startswith("multipart/mixed"):
            requests = [_inner_request(p) for p in _split(rest, boundary_of(part_type))]
            if any(r.method == "GET" for r in requests):
                raise BatchFormatError("Change sets cannot contain GET requests.")
            items.append(BatchItem(changeset=requests))
        else:
            items.append(BatchItem(request=_inner_request(part)))
    return items


def _http_part(response: InnerResponse) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if response.content_id:
        lines.append(f"Content-ID: {response.content_id}")
    lines += ["", f"HTTP/1.1 {response.status} {response.reason}"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    lines += ["", response.body.decode("utf-8")]
    return CRLF.join(lines)


def render_batch(results: list[InnerResponse | list[InnerResponse]]) -> tuple[str, bytes]:
    """(content type, body) of a batch response; a list stands for a successful change set."""
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[str] = []
    for result in results:
        if isinstance(result, list):
            inner = f"changesetresponse_{uuid.uuid4()}"
            body = "".join(f"--{inner}{CRLF}{_http_part(r)}{CRLF}" for r in result) + f"--{inner}--{CRLF}"
            chunks.append(f"--{boundary}{CRLF}Content-Type: multipart/mixed; boundary={inner}{CRLF}{CRLF}{body}")
        else:
            chunks.append(f"--{boundary}{CRLF}{_http_part(result)}{CRLF}")
    chunks.append(f"--{boundary}--{CRLF}")
    return f"multipart/mixed; boundary={boundary}", "".join(chunks).encode()
