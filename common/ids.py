"""Identifiers: 22-character base62 UUIDs, the shape the reference uses for execution and task run ids."""

from __future__ import annotations

import os

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The version (4) and variant (RFC 4122) bits of a random UUID, set as `uuid.uuid4()` sets them.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)


def new_id() -> str:
    n = (int.from_bytes(os.urandom(16), "big") & _CLEAR) | _SET  # `uuid.uuid4().int`, without the UUID object
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out)).rjust(22, "0")
