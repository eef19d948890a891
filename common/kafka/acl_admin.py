"""Creating the ACLs of `acls.py` on the cluster (AdminClient.create_acls) and listing what it holds."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from conveyor.common.kafka.acls import Acl
from conveyor.common.kafka.errors import FatalKafkaError, kafka_errors
from conveyor.common.kafka.verify import connect
from conveyor.common.settings import KafkaSettings

# confluent-kafka names Kafka's CLUSTER resource (type 4) BROKER
_TO_CONFLUENT = {"CLUSTER": "BROKER"}
_FROM_CONFLUENT = {value: key for key, value in _TO_CONFLUENT.items()}


def to_binding(acl: Acl) -> AclBinding:
    return AclBinding(
        ResourceType[_TO_CONFLUENT.get(acl.resource, acl.resource)],
        acl.name,
        ResourcePatternType[acl.pattern],
        acl.principal,
        "*",
        AclOperation[acl.operation],
        AclPermissionType.ALLOW,
    )


def apply_acls(settings: KafkaSettings, acls: list[Acl], timeout: float = 30.0) -> None:
    """Create the ACLs (creating one that exists changes nothing); raise `FatalKafkaError` naming each refused
    one, e.g. when these credentials may not alter the cluster's ACLs."""
    if not acls:
        return
    admin = connect(settings, timeout)
    wanted = {to_binding(acl): acl for acl in acls}
    with kafka_errors("create ACLs"):
        futures = admin.create_acls(list(wanted), request_timeout=timeout)
    failed = []
    for binding, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            acl = wanted[binding]
            failed.append(f"{acl.principal} {acl.operation} {acl.resource} {acl.name}: {exc}")
    if failed:
        raise FatalKafkaError(f"{len(failed)} of {len(acls)} ACLs were refused:\n  " + "\n  ".join(failed))


# AclBindingFilter's "any name, any principal, any host"
_ANY: Any = None


def existing_acls(settings: KafkaSettings, timeout: float = 30.0) -> set[Acl]:
    """Every ALLOW ACL on the cluster, as `Acl`s (those of any host)."""
    admin = connect(settings, timeout)
    match_any = AclBindingFilter(
        ResourceType.ANY, _ANY, ResourcePatternType.ANY, _ANY, _ANY, AclOperation.ANY, AclPermissionType.ALLOW
    )
    with kafka_errors("describe ACLs"):
        found = admin.describe_acls(match_any, request_timeout=timeout).result()
    return {_acl_of(binding) for binding in found}


def _acl_of(binding: Any) -> Acl:
    resource = binding.restype.name
    return Acl(
        binding.principal,
        _FROM_CONFLUENT.get(resource, resource),
        binding.name,
        binding.resource_pattern_type.name,
        binding.operation.name,
    )
