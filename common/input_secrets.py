"""SECRET input and output values inside an execution: sealed, so that what reads the execution without
needing the value (the indexer, the API, a log line) can recognise and mask it without knowing the flow.

With `CONVEYOR_ENCRYPTION_SECRET_KEY` set, a sealed value is `conveyor-secret:v2:` and the value encrypted
with it (AES-GCM, `common.encryption`, as the reference encrypts with `kestra.encryption.secret-key`): only a
process holding the key can read it. Without a key it is `conveyor-secret:v1:` and the value in base64: an
encoding that marks it, not a cipher (the Kafka topics are then as private as the value). Either way it stays
sealed in the execution and in every expression context; an expression that reads it (`{{ inputs.x }}`) gets
the value (`reveal`, in `common.render`). The indexer, the API and the CLI show `******` (`mask`); a worker
writes `********` in its log lines wherever a secret of the job's inputs appears (`redact`, as the reference
does)."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

from conveyor.common.encryption import EncryptionError, default_cipher

MARK = "conveyor-secret:"
PREFIX = MARK + "v1:"  # encoded (no key configured)
ENCRYPTED = MARK + "v2:"  # AES-GCM with the configured key
MASK = "******"
LOG_MASK = "********"


def seal(value: str) -> str:
    cipher = default_cipher()
    if cipher is not None:
        return ENCRYPTED + cipher.encrypt(value)
    return PREFIX + base64.urlsafe_b64encode(value.encode()).decode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith((PREFIX, ENCRYPTED))


def unseal(value: str) -> str:
    """The secret; `EncryptionError` for an encrypted one this process has no key (or not the key) for."""
    if value.startswith(ENCRYPTED):
        cipher = default_cipher()
        if cipher is None:
            raise EncryptionError("a SECRET value is encrypted, and CONVEYOR_ENCRYPTION_SECRET_KEY is not set here")
        return cipher.decrypt(value.removeprefix(ENCRYPTED))
    return base64.urlsafe_b64decode(value.removeprefix(PREFIX).encode()).decode()


def reveal(value: Any) -> Any:
    """`value` itself, or the secret it seals."""
    return unseal(value) if is_sealed(value) else value


def secrets_in(value: Any) -> list[str]:
    """The values of every sealed string inside `value` (nested), longest first, empty ones left out."""
    found: list[str] = []

    def add(sealed: str) -> None:
        with contextlib.suppress(EncryptionError):  # unreadable here: no expression can reveal it either
            found.append(unseal(sealed))

    _walk(value, add)
    return sorted({s for s in found if s}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """`text` with each of `secrets` written `********`."""
    for secret in secrets:
        text = text.replace(secret, LOG_MASK)
    return text


def mask(value: Any) -> Any:
    """`value` (inputs or outputs, nested) with every sealed string replaced by `******`."""
    return _walk(value, lambda _: MASK)


def mask_execution(doc: dict[str, Any]) -> dict[str, Any]:
    """An execution's JSON with its SECRET inputs and outputs masked (in place, and returned)."""
    for field in ("inputs", "outputs"):
        if doc.get(field):
            doc[field] = mask(doc[field])
    return doc


def _walk(value: Any, replace: Any) -> Any:
    if is_sealed(value):
        return replace(value)
    if isinstance(value, dict):
        return {k: _walk(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, replace) for v in value]
    return value
