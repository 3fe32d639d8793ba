"""Small pure functions for webhook authentication (in the style of stripe-python).

All comparisons are constant time; every check accepts several secrets so a
secret can be rotated without dropping deliveries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from .errors import SignatureError


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def hmac_sha256_hex(secret: str | bytes, message: bytes) -> str:
    return hmac_sha256(secret, message).hex()


def hmac_sha256_b64(secret: str | bytes, message: bytes) -> str:
    return base64.b64encode(hmac_sha256(secret, message)).decode()


def sha256_hex(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


def matches_any(provided: str | None, expected: Iterable[str]) -> bool:
    """True when ``provided`` equals one of the expected values (constant time each)."""
    if not provided:
        return False
    found = False
    for candidate in expected:
        # no early exit, so timing does not reveal which secret matched
        found |= constant_time_equals(provided, candidate)
    return found


def check_timestamp(timestamp_seconds: float, now_seconds: float, tolerance_seconds: float) -> None:
    """Reject stale or far-future timestamps (replay protection)."""
    if abs(now_seconds - timestamp_seconds) > tolerance_seconds:
        raise SignatureError(
            f"Request timestamp is outside the {int(tolerance_seconds)} s tolerance window; "
            "check the sender's clock or resend the request."
        )
