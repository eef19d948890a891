"""`conveyor kafka acls [--apply] [--principal-prefix User:] [--service S]...`: the least-privilege ACLs of
each service (`common/kafka/acls.py`) as a table and as `kafka-acls.sh` commands; `--apply` creates them
with the current Kafka credentials (which must be allowed to alter ACLs: a super user or an admin)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from itertools import groupby

from conveyor.cli.output import console, err_console, print_json, table
from conveyor.common.errors import UsageError
from conveyor.common.kafka.acls import ACCESS, Acl, bindings
from conveyor.common.settings import KafkaSettings

# kafka-acls.sh's spelling of Kafka's operation and resource names
_OPERATIONS = {
    "READ": "Read",
    "WRITE": "Write",
    "DESCRIBE": "Describe",
    "DESCRIBE_CONFIGS": "DescribeConfigs",
    "CREATE": "Create",
    "IDEMPOTENT_WRITE": "IdempotentWrite",
}
_RESOURCES = {"TOPIC": "--topic", "GROUP": "--group", "TRANSACTIONAL_ID": "--transactional-id"}


def acls(
    kafka: KafkaSettings,
    *,
    apply: bool = False,
    principal_prefix: str = "User:",
    services: list[str] | None = None,
    output: str = "table",
) -> int:
    if not principal_prefix.strip():
        raise UsageError("--principal-prefix: must not be empty (e.g. User:)")
    try:
        found = bindings(kafka.topic_prefix, principal_prefix, services or None)
    except ValueError as exc:
        raise UsageError(f"--service: {exc}") from None
    if apply:
        from conveyor.common.kafka.acl_admin import apply_acls

        apply_acls(kafka, found)
    if output == "json":
        print_json([_row(acl) for acl in found])
    elif output == "markdown":
        sys.stdout.write(markdown_table(kafka.topic_prefix, principal_prefix, services) + "\n")
    else:
        rows = [[a.principal, a.resource, a.name, a.pattern, a.operation] for a in found]
        title = f"Kafka ACLs for the topics {kafka.topic_prefix}* ({len(found)})"
        console.print(table(title, ["principal", "resource", "name", "pattern", "operation"], rows))
        console.print("\nThe same with kafka-acls.sh:\n", highlight=False)
        console.print("\n".join(commands(found, kafka.bootstrap)), highlight=False, markup=False, soft_wrap=True)
    if apply:
        err_console.print(f"applied {len(found)} ACLs on {kafka.describe()}", highlight=False)  # stdout: the ACLs
    return 0


def commands(found: Iterable[Acl], bootstrap: str = "BROKER:9093") -> list[str]:
    """One `kafka-acls.sh --add` per principal and resource, with all of its operations."""
    base = f"kafka-acls.sh --bootstrap-server {shlex.quote(bootstrap)} --command-config admin.properties --add"
    out = []
    for (principal, resource, name, pattern), group in groupby(
        sorted(found), key=lambda a: (a.principal, a.resource, a.name, a.pattern)
    ):
        operations = " ".join(f"--operation {_OPERATIONS[a.operation]}" for a in group)
        target = "--cluster" if resource == "CLUSTER" else f"{_RESOURCES[resource]} {shlex.quote(name)}"
        prefixed = " --resource-pattern-type prefixed" if pattern == "PREFIXED" else ""
        out.append(f"{base} --allow-principal {shlex.quote(principal)} {operations} {target}{prefixed}")
    return out


def markdown_table(
    topic_prefix: str = "conveyor.", principal_prefix: str = "User:", services: list[str] | None = None
) -> str:
    """docs/operations.md's table: one row per principal of `ACCESS` (`tests/unit/test_kafka_acls.py` checks
    that the page holds it)."""
    lines = [
        "| principal | Read, Describe, DescribeConfigs | Write, Describe, DescribeConfigs | groups: Read "
        "| transactional ids: Write, Describe | cluster / other |",
        "|---|---|---|---|---|---|",
    ]
    for name in services or ACCESS:
        found = bindings(topic_prefix, principal_prefix, [name])
        cells = [
            _names(a for a in found if a.resource == "TOPIC" and a.operation == "READ"),
            _names(a for a in found if a.resource == "TOPIC" and a.operation == "WRITE"),
            _names(a for a in found if a.resource == "GROUP"),
            _names(a for a in found if a.resource == "TRANSACTIONAL_ID" and a.operation == "WRITE"),
            _other(found),
        ]
        lines.append(f"| `{principal_prefix}{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _names(found: Iterable[Acl]) -> str:
    names = [f"`{a.name}`" + (" (prefixed)" if a.pattern == "PREFIXED" else "") for a in found]
    return ", ".join(names) or "—"


def _other(found: list[Acl]) -> str:
    """The cluster's operations, and the topics Job's Create (with Describe, DescribeConfigs) on every topic."""
    cluster = [_OPERATIONS[a.operation] for a in found if a.resource == "CLUSTER"]
    parts = [f"cluster {', '.join(cluster)}"] if cluster else []
    creates = [a for a in found if a.resource == "TOPIC" and a.operation == "CREATE"]
    parts += [f"Create, Describe, DescribeConfigs on topics {_names([a])}" for a in creates]
    return "; ".join(parts) or "—"


def _row(acl: Acl) -> dict[str, str]:
    return {
        "principal": acl.principal,
        "resourceType": acl.resource,
        "resourceName": acl.name,
        "patternType": acl.pattern,
        "operation": acl.operation,
        "permission": "ALLOW",
    }
