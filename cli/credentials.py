"""Where the CLI's credentials live, and which one a command sends to `conveyor server`:

1. `CONVEYOR_API_TOKEN`, as a Bearer token;
2. the token `conveyor login` stored for that server, in `$XDG_CONFIG_HOME/conveyor/credentials.json`
   (else `~/.config/conveyor/`), a file only its owner can read (0600);
3. against the local stack's own server: the admin credential `conveyor up` made, in
   `$CONVEYOR_HOME/admin-credentials.json` (0600), as Basic authentication.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any

from conveyor.common.settings import conveyor_home, local_stack

LOCAL_ADMIN = "admin"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "conveyor"


def login_file() -> Path:
    return config_dir() / "credentials.json"


def local_admin_file() -> Path:
    return conveyor_home() / "admin-credentials.json"


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by its owner only: created 0600, never world-readable, not even for an instant."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stored_tokens() -> dict[str, str]:
    return {str(k): str(v) for k, v in _read(login_file()).get("tokens", {}).items()}


def store_token(url: str, token: str) -> Path:
    tokens = {**stored_tokens(), url.rstrip("/"): token}
    write_private(login_file(), {"tokens": tokens})
    return login_file()


def forget_token(url: str) -> str | None:
    tokens = stored_tokens()
    gone = tokens.pop(url.rstrip("/"), None)
    if gone is not None:
        write_private(login_file(), {"tokens": tokens})
    return gone


def local_admin() -> dict[str, str]:
    """The local stack's admin credential (`user`, `password`, `sessionSecret`): made once, kept 0600."""
    found = _read(local_admin_file())
    if {"user", "password", "sessionSecret"} <= set(found):
        return {k: str(found[k]) for k in ("user", "password", "sessionSecret")}
    made = {"user": LOCAL_ADMIN, "password": secrets.token_urlsafe(24), "sessionSecret": secrets.token_hex(32)}
    write_private(local_admin_file(), made)
    return made


def local_admin_env(environ: dict[str, str]) -> dict[str, str]:
    """The server's `CONVEYOR_AUTH_*` for the local stack: the users already configured plus the admin."""
    from conveyor.api.passwords import hash_password

    admin = local_admin()
    try:
        users = json.loads(environ.get("CONVEYOR_AUTH_USERS") or "{}")
    except ValueError:
        users = {}
    users = users if isinstance(users, dict) else {}
    users[admin["user"]] = {
        "passwordHash": hash_password(admin["password"]),
        "bindings": [{"role": "admin", "namespace": ""}],
    }
    return {
        "CONVEYOR_AUTH_USERS": json.dumps(users),
        "CONVEYOR_AUTH_SESSION_SECRET": environ.get("CONVEYOR_AUTH_SESSION_SECRET") or admin["sessionSecret"],
    }


def authorization(url: str, token: str | None) -> str | None:
    """The `Authorization` header for calling `url`, None when the CLI has no credential for it."""
    if token:
        return f"Bearer {token}"
    stored = stored_tokens().get(url.rstrip("/"))
    if stored:
        return f"Bearer {stored}"
    if local_stack().get("serverUrl", "").rstrip("/") == url.rstrip("/"):
        found = _read(local_admin_file())
        if "user" in found and "password" in found:
            pair = f"{found['user']}:{found['password']}".encode()
            return "Basic " + base64.b64encode(pair).decode()
    return None
