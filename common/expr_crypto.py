"""`encrypt(key, plaintext)` and `decrypt(key, encrypted)`: the reference's AES-GCM functions.

As the reference's `EncryptionService`: the key is base64 (16, 24 or 32 bytes: AES-128, -192 or -256), a
random 12-byte IV is put before the ciphertext and its 128-bit tag, and the whole is base64. So a text
encrypted by the reference decrypts here and the other way round. An empty or null text stays as it is. A
decrypted text is a secret: the worker masks it (`******`) in the attempt's logs and outputs, as a `secret()`.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jinja2 import pass_context
from jinja2.runtime import Context

from conveyor.common.expr_context import REVEALED_KEY, Revealed

IV_LENGTH = 12


class CryptoError(ValueError):
    """A key that is not an AES key, or a text that does not decrypt with it."""


def _aes(function: str, key: Any) -> AESGCM:
    if not isinstance(key, str):
        raise CryptoError(f"The '{function}' function expects a base64 key (a string), got {type(key).__name__}")
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError(f"{function}: the key is not base64") from None
    if len(raw) not in (16, 24, 32):
        raise CryptoError(f"{function}: the key is {len(raw)} bytes; AES needs 16, 24 or 32 (base64 encoded)")
    return AESGCM(raw)


def encrypt(key: Any, plaintext: Any) -> Any:
    cipher = _aes("encrypt", key)
    if plaintext is None or plaintext == "":
        return plaintext
    iv = os.urandom(IV_LENGTH)
    return base64.b64encode(iv + cipher.encrypt(iv, str(plaintext).encode("utf-8"), None)).decode("ascii")


@pass_context
def decrypt(ctx: Context, key: Any, encrypted: Any) -> Any:
    cipher = _aes("decrypt", key)
    if encrypted is None or encrypted == "":
        return encrypted
    try:
        raw = base64.b64decode(str(encrypted), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("decrypt: the encrypted text is not base64") from None
    if len(raw) <= IV_LENGTH:
        raise CryptoError("decrypt: the encrypted text is too short (no IV and tag)")
    try:
        plain = cipher.decrypt(raw[:IV_LENGTH], raw[IV_LENGTH:], None)
    except InvalidTag:
        raise CryptoError("decrypt: Tag mismatch (another key, or a damaged text)") from None
    text = plain.decode("utf-8", errors="replace")
    revealed = ctx.get(REVEALED_KEY)
    if isinstance(revealed, Revealed):
        revealed.add(text)
    return text


FUNCTIONS = {"encrypt": encrypt, "decrypt": decrypt}
