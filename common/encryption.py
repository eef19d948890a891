"""AES-GCM encryption of SECRET input and output values, with the key `CONVEYOR_ENCRYPTION_SECRET_KEY`.

The reference's scheme (`kestra.encryption.secret-key`, its EncryptionService): the key is base64 (16, 24 or
32 bytes: AES-128/192/256), each value is encrypted with a fresh 12-byte IV and a 128-bit tag, and the text is
base64(IV + ciphertext + tag). Every process that creates executions (the CLI, the server: inputs), types flow
outputs (the executor) or reads a value (the executor and the workers, when an expression uses it) needs the
same key; the indexer masks without it.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from conveyor.common.errors import UsageError

IV_BYTES = 12


class EncryptionError(ValueError):
    """A value that cannot be encrypted or decrypted here (no key, another key, a damaged text)."""


class EncryptionSettings(BaseSettings):
    """The key that encrypts SECRET inputs and outputs (`common/encryption.py`), in every process that starts
    executions, runs them or renders their expressions (CLI, server, executor, workers)."""

    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_ENCRYPTION_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    secret_key: SecretStr | None = Field(
        default=None,
        description="The AES key in base64 (16, 24 or 32 bytes; `openssl rand -base64 32`), the reference's "
        "`kestra.encryption.secret-key`. Set: SECRET input and output values are encrypted (AES-GCM) in the "
        "executions and decrypted only where an expression reads them. Unset: they are only encoded "
        "(`conveyor-secret:v1:`), still masked everywhere, readable by whoever reads the Kafka topics.",
    )

    @field_validator("secret_key")
    @classmethod
    def _aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            key_bytes(value.get_secret_value())
        return value


def key_bytes(key: str) -> bytes:
    """The AES key that the base64 text `key` holds; ValueError (never naming the key) when it holds none."""
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("CONVEYOR_ENCRYPTION_SECRET_KEY must be base64 (e.g. `openssl rand -base64 32`)") from None
    if len(raw) not in (16, 24, 32):
        raise ValueError(f"CONVEYOR_ENCRYPTION_SECRET_KEY must hold 16, 24 or 32 bytes, not {len(raw)}")
    return raw


class Cipher:
    def __init__(self, key: bytes) -> None:
        self._aes = AESGCM(key)

    def encrypt(self, text: str) -> str:
        iv = os.urandom(IV_BYTES)
        return base64.b64encode(iv + self._aes.encrypt(iv, text.encode(), None)).decode()

    def decrypt(self, text: str) -> str:
        try:
            raw = base64.b64decode(text, validate=True)
            return self._aes.decrypt(raw[:IV_BYTES], raw[IV_BYTES:], None).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise EncryptionError(
                "a SECRET value cannot be decrypted with this process's CONVEYOR_ENCRYPTION_SECRET_KEY "
                "(another key encrypted it, or it is damaged)"
            ) from None


@cache
def default_cipher() -> Cipher | None:
    """The process's cipher, from its settings (read once); None without a key."""
    try:
        key = EncryptionSettings().secret_key
    except ValidationError as exc:  # a bad key is the operator's to fix, named (never shown)
        raise UsageError(str(exc)) from None
    return None if key is None else Cipher(key_bytes(key.get_secret_value()))


__all__ = ["Cipher", "EncryptionError", "EncryptionSettings", "default_cipher", "key_bytes"]
