"""`conveyor auth hash-password`, `conveyor login|logout` and `conveyor tokens create|list|revoke`."""

from __future__ import annotations

import base64
import getpass
import socket
import sys
from typing import Any

from conveyor.cli.apiclient import ApiClient, ApiRefused
from conveyor.cli.credentials import forget_token, login_file, store_token
from conveyor.cli.output import console, err_console, print_json, table
from conveyor.common.auth import parse_binding
from conveyor.common.errors import UsageError


def _secret(prompt: str, from_stdin: bool) -> str:
    """A password: one line of stdin (`--password-stdin`, or when stdin is not a terminal), else asked."""
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass(prompt)


def hash_password(from_stdin: bool) -> int:
    from conveyor.api.passwords import hash_password as argon2_hash

    password = _secret("Password: ", from_stdin)
    if not password:
        raise UsageError("the password is empty")
    print(argon2_hash(password))
    return 0


def login(user: str | None, token: str | None, from_stdin: bool) -> int:
    """Store a token for the server: the one given (checked first), or a new one made with user + password."""
    client = ApiClient.of()
    if token is None:
        name = user or input("User: ").strip()
        password = _secret("Password: ", from_stdin)
        basic = "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()
        made = ApiClient(client.url, basic).call(
            "POST", "/api/v1/tokens", {"name": f"conveyor login on {socket.gethostname()}"[:100]}
        )
        token = str(made["token"])
    me = ApiClient(client.url, f"Bearer {token}").call("GET", "/api/v1/me")
    path = store_token(client.url, token)
    err_console.print(f"signed in to {client.url} as {me['name']}; the token is in {path} (only you can read it)")
    return 0


def logout() -> int:
    client = ApiClient.of()
    token = forget_token(client.url)
    if token is None:
        err_console.print(f"no stored token for {client.url} (in {login_file()})")
        return 0
    me = ApiClient(client.url, f"Bearer {token}")
    try:
        found = me.call("GET", "/api/v1/me")
        if found.get("tokenId"):
            me.call("DELETE", f"/api/v1/tokens/{found['tokenId']}")
    except ApiRefused:
        pass  # expired or revoked already: forgetting it is all that is left
    err_console.print(f"signed out of {client.url}: the token is revoked and removed from {login_file()}")
    return 0


def create_token(name: str, roles: list[str], days: int | None, owner: str | None, output: str) -> int:
    body: dict[str, Any] = {"name": name}
    if roles:
        try:
            body["bindings"] = [parse_binding(r).to_dict() for r in roles]
        except ValueError as exc:
            raise UsageError(f"--role {exc}") from None
    if days is not None:
        body["expiresInDays"] = days
    if owner:
        body["owner"] = owner
    made = ApiClient.of().call("POST", "/api/v1/tokens", body)
    if output == "json":
        print_json(made)
        return 0
    print(made["token"])
    err_console.print(
        f"token {made['id']} ({made['name']}) for {made['owner']}, {_bindings(made['bindings'])}, "
        f"expires {made.get('expiresAt', 'never')}: shown this once, keep it secret"
    )
    return 0


def list_tokens(owner: str | None, output: str) -> int:
    path = "/api/v1/tokens" + (f"?owner={owner}" if owner else "")
    found = ApiClient.of().call("GET", path)
    if output == "json":
        print_json(found)
        return 0
    rows = [[t["id"], t["name"], t["owner"], _bindings(t["bindings"]), t.get("expiresAt", "")] for t in found]
    console.print(table("API tokens", ["id", "name", "owner", "roles", "expires"], rows))
    return 0


def revoke_token(token_id: str) -> int:
    ApiClient.of().call("DELETE", f"/api/v1/tokens/{token_id}")
    err_console.print(f"token {token_id} revoked")
    return 0


def _bindings(bindings: list[dict[str, Any]]) -> str:
    return ", ".join(f"{b['role']}@{b.get('namespace') or '*'}" for b in bindings) or "no roles"


def whoami(url: str | None = None) -> dict[str, Any] | str:
    """Who the CLI is to the server: the `/api/v1/me` answer, or why not (words safe to print)."""
    client = ApiClient.of()
    if url:
        client = ApiClient(url.rstrip("/"), client.authorization if client.url == url.rstrip("/") else None)
    if client.authorization is None:
        return "no credential (conveyor login, or CONVEYOR_API_TOKEN)"
    try:
        found: dict[str, Any] = client.call("GET", "/api/v1/me")
    except Exception as exc:
        return str(exc)
    return found


__all__ = ["create_token", "hash_password", "list_tokens", "login", "logout", "revoke_token", "whoami"]
