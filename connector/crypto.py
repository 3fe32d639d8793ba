"""Credentials encrypted at rest with Fernet (key from CEM_SECRET_KEY); decrypted only in memory."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import CryptoError


class SecretBox:
    """Encrypts JSON-able values. Several comma-separated keys allow key rotation (first one encrypts)."""

    def __init__(self, keys: str) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
        except (ValueError, TypeError) as exc:
            raise CryptoError("CEM_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes); "
                              "generate one with: python -c 'from cryptography.fernet import Fernet; "
                              "print(Fernet.generate_key().decode())'") from exc

    def seal(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode())

    def open(self, token: bytes) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise CryptoError("Stored credentials cannot be decrypted with CEM_SECRET_KEY; was the key changed? "
                              "Put the old key after the new one (comma-separated) to rotate.") from exc
