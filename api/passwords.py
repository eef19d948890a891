"""Passwords: argon2id hashes (argon2-cffi's defaults), and a small memory of recent successful checks.

An argon2 check costs tens of milliseconds on purpose; a client using Basic authentication sends the password
with every request. A check that succeeded is remembered (under the SHA-256 of user, password and hash, in
this process only, for `REMEMBER_SECONDS`), so only the first request of a client pays for it. A changed
hash (a new password) no longer matches what is remembered.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
REMEMBER_SECONDS = 300.0
REMEMBERED = 1_000


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


class Verifier:
    def __init__(self) -> None:
        self._ok: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, user: str, password: str, password_hash: str) -> bool:
        key = hashlib.sha256("\0".join((user, password, password_hash)).encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            seen = self._ok.get(key)
            if seen is not None and now - seen < REMEMBER_SECONDS:
                return True
        try:
            _HASHER.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        with self._lock:
            self._ok[key] = now
            self._ok.move_to_end(key)
            while len(self._ok) > REMEMBERED:
                self._ok.popitem(last=False)
        return True
