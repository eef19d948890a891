"""SECRET values encrypted with the configured key (AES-GCM, the reference's scheme), or only encoded without
one; read only where an expression uses them; a missing, wrong or bad key a clear error, never the key."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from conveyor.common import encryption, input_secrets
from conveyor.common.errors import RenderError, UsageError
from conveyor.common.render import render

VAR = "CONVEYOR_ENCRYPTION_SECRET_KEY"
Configure = Callable[[str | None], None]


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    def set_key(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv(VAR, raising=False)
        else:
            monkeypatch.setenv(VAR, value)
        encryption.default_cipher.cache_clear()

    set_key(None)
    yield set_key
    monkeypatch.delenv(VAR, raising=False)
    encryption.default_cipher.cache_clear()


def new_key(size: int = 32) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def test_with_a_key_a_secret_is_encrypted_and_only_an_expression_reads_it(configure: Configure) -> None:
    key = new_key()
    configure(key)
    sealed = input_secrets.seal("hunter2")
    assert sealed.startswith("conveyor-secret:v2:") and input_secrets.is_sealed(sealed)
    assert base64.urlsafe_b64encode(b"hunter2").decode() not in sealed
    assert input_secrets.seal("hunter2") != sealed  # a fresh IV per value
    # the reference's layout: base64(IV of 12 bytes + ciphertext + 128-bit tag), AES-GCM with the key
    raw = base64.b64decode(sealed.removeprefix("conveyor-secret:v2:"))
    assert AESGCM(base64.b64decode(key)).decrypt(raw[:12], raw[12:], None) == b"hunter2"
    assert input_secrets.unseal(sealed) == "hunter2"
    context = {"inputs": {"token": sealed}}
    assert render("{{ inputs.token }}", context) == "hunter2"
    assert "hunter2" not in render("{{ inputs }}", context)
    assert input_secrets.mask({"token": sealed}) == {"token": "******"}
    assert input_secrets.secrets_in(context) == ["hunter2"]


@pytest.mark.parametrize("size", [16, 24, 32])
def test_aes_128_192_and_256_keys(configure: Configure, size: int) -> None:
    configure(new_key(size))
    assert input_secrets.unseal(input_secrets.seal("v")) == "v"


def test_without_a_key_a_secret_is_only_encoded_as_before(configure: Configure) -> None:
    sealed = input_secrets.seal("hunter2")
    assert sealed == "conveyor-secret:v1:" + base64.urlsafe_b64encode(b"hunter2").decode()
    assert render("{{ inputs.token }}", {"inputs": {"token": sealed}}) == "hunter2"
    configure(new_key())  # a key set later still reads what was only encoded
    assert input_secrets.unseal(sealed) == "hunter2"


def test_a_process_without_the_key_or_with_another_fails_what_reads_it(configure: Configure) -> None:
    configure(new_key())
    sealed = input_secrets.seal("hunter2")
    configure(None)
    with pytest.raises(encryption.EncryptionError, match="CONVEYOR_ENCRYPTION_SECRET_KEY is not set"):
        input_secrets.unseal(sealed)
    with pytest.raises(RenderError) as failed:
        render("{{ inputs.token }}", {"inputs": {"token": sealed}})
    assert "CONVEYOR_ENCRYPTION_SECRET_KEY" in str(failed.value)
    assert input_secrets.secrets_in({"token": sealed}) == []  # nothing to mask: nothing can reveal it
    assert input_secrets.mask({"token": sealed}) == {"token": "******"}  # still masked without the key
    configure(new_key())
    with pytest.raises(encryption.EncryptionError, match="another key encrypted it"):
        input_secrets.unseal(sealed)


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64!", "must be base64"), (base64.b64encode(b"short").decode(), "16, 24 or 32 bytes, not 5")],
)
def test_a_bad_key_is_a_usage_error_naming_the_variable_not_the_key(
    configure: Configure, value: str, message: str
) -> None:
    configure(value)
    with pytest.raises(UsageError, match=message) as failed:
        input_secrets.seal("x")
    assert value not in str(failed.value)
