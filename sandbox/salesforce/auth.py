"""RS256 JWT verification with the standard library only (sandboxes may not depend on PyJWT).

Salesforce's JWT bearer flow checks the assertion's RSASSA-PKCS1-v1_5 SHA-256 signature
against the certificate uploaded to the connected app; the sandbox does the same against a
registered PEM public key (SubjectPublicKeyInfo) or an X.509 certificate.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
RSA_OID = bytes.fromhex("2a864886f70d010101")


class JwtError(Exception):
    pass


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _read(der: bytes, offset: int) -> tuple[int, bytes, int]:
    """One DER element at ``offset``: (tag, content, offset after it)."""
    if offset + 2 > len(der):
        raise JwtError("truncated key")
    tag, length = der[offset], der[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise JwtError("bad DER length")
        length = int.from_bytes(der[offset:offset + count], "big")
        offset += count
    if offset + length > len(der):
        raise JwtError("truncated key")
    return tag, der[offset:offset + length], offset + length


def _children(content: bytes) -> list[tuple[int, bytes]]:
    items, offset = [], 0
    while offset < len(content):
        tag, value, offset = _read(content, offset)
        items.append((tag, value))
    return items


def _find_rsa_key(der: bytes) -> tuple[int, int]:
    """Search a SubjectPublicKeyInfo (alone or inside a certificate) for the RSA modulus and exponent."""
    stack = [der]
    for _ in range(64):  # bounded walk over nested SEQUENCEs
        if not stack:
            break
        blob = stack.pop()
        try:
            tag, content, _ = _read(blob, 0)
        except JwtError:
            continue
        if tag != 0x30:
            continue
        children = _children(content)
        if (len(children) == 2 and children[0][0] == 0x30 and children[1][0] == 0x03
                and RSA_OID in children[0][1]):
            key_seq = _children(_read(children[1][1][1:], 0)[1])
            if len(key_seq) == 2 and key_seq[0][0] == key_seq[1][0] == 0x02:
                return int.from_bytes(key_seq[0][1], "big"), int.from_bytes(key_seq[1][1], "big")
        stack.extend(_reencode(tag_, value) for tag_, value in children if tag_ in (0x30, 0xA0))
    raise JwtError("no RSA public key found")


def _reencode(tag: int, content: bytes) -> bytes:
    if tag == 0xA0:  # [0] explicit wrapper in a certificate: look inside
        return content
    length = len(content)
    if length < 0x80:
        header = bytes([tag, length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([tag, 0x80 | len(raw)]) + raw
    return header + content


def public_key_from_pem(pem: str) -> tuple[int, int]:
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    try:
        der = base64.b64decode(body)
    except ValueError as exc:
        raise JwtError("bad PEM") from exc
    return _find_rsa_key(der)


def verify_rs256(token: str, public_key: tuple[int, int]) -> dict[str, Any]:
    """The claims of ``token`` if its RS256 signature is valid for ``public_key``; raises JwtError."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("not a JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError as exc:
        raise JwtError("undecodable JWT") from exc
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise JwtError("only RS256 assertions are accepted")
    modulus, exponent = public_key
    size = (modulus.bit_length() + 7) // 8
    if len(signature) != size:
        raise JwtError("bad signature length")
    decoded = pow(int.from_bytes(signature, "big"), exponent, modulus).to_bytes(size, "big")
    digest = hashlib.sha256(f"{parts[0]}.{parts[1]}".encode()).digest()
    expected = b"\x00\x01" + b"\xff" * (size - 3 - len(SHA256_DIGEST_INFO) - len(digest)) + b"\x00" \
        + SHA256_DIGEST_INFO + digest
    if decoded != expected:
        raise JwtError("signature does not match")
    return claims
